"""Generated modules for the PodResources v1 API (package ``v1``); do not edit."""
