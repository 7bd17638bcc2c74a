"""Config sections owned by the memory layer (tree shape, store location)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TreeConfig(_Frozen):
    """How a caption tree is shaped and how parent captions are made."""

    leaf_seconds: float = Field(5.0, gt=0, description="text trees: seconds of timed captions grouped into one leaf")
    leaf_min_seconds: float = Field(10.0, gt=0, description="video trees: shortest leaf clip (shots merge up to it)")
    leaf_max_seconds: float = Field(30.0, gt=0, description="video trees: longest leaf clip (long shots are split)")
    width: int | None = Field(None, ge=2, le=16, description="branching; None = clamp(round((dur/leaf)^(1/3)), 3, 8)")
    summariser: str = Field("extractive", description="parent captions: 'extractive' (central child sentences)")
    summary_sentences: int = Field(2, ge=1, le=8, description="sentences kept by the extractive summariser")
    lazy: bool = Field(False, description="video trees: caption only the top levels up front, the rest on demand")
    eager_levels: int = Field(2, ge=1, description="lazy trees: levels (below the root) captioned up front")

    @field_validator("summariser")
    @classmethod
    def _known(cls, v: str) -> str:
        if v != "extractive":
            raise ValueError(f"tree.summariser must be 'extractive' (the only parent summariser), got {v!r}")
        return v


class StoreConfig(_Frozen):
    """Where the SQLite store lives."""

    path: Path | None = Field(None, description="SQLite file; None = ~/.cache/videonav/store.sqlite")
