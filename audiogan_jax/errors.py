"""Error types the commands report as one line (see ``cli.common``)."""


class CheckpointError(Exception):
  """A checkpoint could not be written, or none could be read."""
