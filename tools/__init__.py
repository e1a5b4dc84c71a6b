"""Adapters to the outside world, each a Reader and a Writer. Writers run only inside the Gate."""
