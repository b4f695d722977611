"""Generated modules for the PodResources v1alpha1 API (package ``v1alpha1``); do not edit."""
