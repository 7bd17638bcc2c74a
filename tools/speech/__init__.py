"""Speech recognition: an audio track becomes timed cues, like a subtitle file (see :mod:`.base`)."""
