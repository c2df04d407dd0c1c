"""Liandong services: each a folder that reads top-down (topics in, topics out, handlers)."""
