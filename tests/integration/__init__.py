"""Integration tests: the playbooks run on this host through ansible-runner."""
