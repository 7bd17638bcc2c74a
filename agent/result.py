"""What ``ask`` returns: the answer with its evidence, the full trace and the cost."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Span(BaseModel):
    """A piece of the video the planner read or cites."""

    node_id: str | None = None
    start: float
    end: float
    kind: str = Field("line", description="summary (a part's caption) | clip (a leaf's) | line (verbatim) | answer")
    text: str | None = None


class Step(BaseModel):
    round: int
    action: str = Field(description="tool name, or 'invalid'")
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw: str = Field("", description="the model's reply (free decoding) or the chosen candidate")
    observation: str = ""
    valid: bool = True
    reads: int = Field(0, description="caption texts this step put in front of the planner")
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    confidence: float | None = Field(None, description="answer confidence after this step")


class Cost(BaseModel):
    rounds: int = 0
    tool_calls: dict[str, int] = Field(default_factory=dict)
    invalid_actions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    captions_read: int = Field(0, description="caption texts shown to the planner (node captions + verbatim lines)")
    seconds: float = 0.0
    llm_seconds: float = 0.0
    tool_seconds: float = 0.0
    captions_built: int = Field(0, description="lazy trees: captions built on demand for this question")
    caption_seconds: float = 0.0

    @property
    def total_tool_calls(self) -> int:
        return sum(v for k, v in self.tool_calls.items() if k != "answer")

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class AskResult(BaseModel):
    question: str
    options: list[str] = Field(default_factory=list)
    answer: str
    option_index: int | None = None
    confidence: float = 0.0
    halted_by: str = Field("", description="confident | planner | budget:<kind> | strategy")
    evidence: list[Span] = Field(default_factory=list, description="spans the answer cites")
    visited: list[Span] = Field(default_factory=list, description="spans whose captions were read")
    trace: list[Step] = Field(default_factory=list)
    cost: Cost = Field(default_factory=Cost)
    strategy: str = "navigate"
