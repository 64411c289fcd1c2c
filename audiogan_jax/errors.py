"""Error types the commands report as one line (see ``cli.common``)."""


class CheckpointError(Exception):
  """A checkpoint could not be written, or none could be read."""


# What the collectives of a jax.distributed job raise when a peer process is
# gone (gloo on CPU hosts, NCCL on GPUs, the coordination service anywhere).
_LOST_PEER = ("Connection reset by peer", "Connection closed by peer",
              "another task died", "coordination service has stopped")


def lost_process(e: BaseException) -> bool:
  """Whether ``e`` says that another process of this jax.distributed job is
  gone (killed, out of memory, its host lost), as opposed to a fault here."""
  import jax  # pylint: disable=g-import-not-at-top
  if not jax.distributed.is_initialized():
    return False
  text = str(e)
  return (any(m in text for m in _LOST_PEER)
          or (("Gloo " in text or "NCCL" in text) and "failed" in text))
