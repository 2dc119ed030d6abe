"""Plumbing shared by the tests and the benchmarks: stacks of this project on the real engine
(stacks), the devcloud's objects and services (devcloud_support), the objects a deployed stack
made (live_cloud), and Octavia on the devcloud (octavia_support)."""
