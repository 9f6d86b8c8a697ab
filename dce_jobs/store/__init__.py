"""Stores: the Store protocol, the embedded SQLite default and MongoDB."""

from .base import Store

__all__ = ["Store"]
