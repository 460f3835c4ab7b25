"""Conformance targets no one here wrote the protocol side of (DESIGN §2): agents served
by their framework's own adapter, for the suite to gate as it would another team's."""
