"""API base classes shared by every app: authentication, pagination, restricted viewsets."""
