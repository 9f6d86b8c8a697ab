"""dce-jobs: run commands in the task containers of a Docker Swarm service, on any node."""

__version__ = "0.1.0"
