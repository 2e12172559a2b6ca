"""Fixtures for the local Tibber GraphQL server."""
