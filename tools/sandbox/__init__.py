"""The sandbox: a simulated fleet for `shipmate chat`, demos and tests. It is not a cluster."""
