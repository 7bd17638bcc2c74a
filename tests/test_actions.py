import json

from hypothesis import given, settings
from hypothesis import strategies as st

from videonav.agent.actions import Action, ParseFailure, option_index, parse_action, tool_schemas


def test_schemas_match_transformers():
    from transformers.utils import get_json_schema

    from videonav.agent.actions import TOOL_FUNCTIONS

    assert tool_schemas() == [get_json_schema(f) for f in TOOL_FUNCTIONS]


def test_schemas_from_stubs():
    names = [s["function"]["name"] for s in tool_schemas()]
    assert names == ["expand", "inspect", "search", "answer"]
    inspect = tool_schemas()[1]["function"]["parameters"]
    assert inspect["required"] == ["node_id", "query"]


def test_render_parse_round_trip():
    for a in [Action(name="expand", node_id="2.3"), Action(name="inspect", node_id="1", query="red car"),
              Action(name="search", query="a dog"), Action(name="answer", answer="B", confidence=0.8)]:
        assert parse_action(a.render()) == a


def test_formats_small_models_emit():
    cases = {
        '<tool_call>{"name": "expand", "arguments": {"node_id": 2}}': Action(name="expand", node_id="2"),
        "<tool>get_caption((1,2))</tool>": Action(name="expand", node_id="1.2"),
        "<tool>video_qa((3,1), 'what colour')</tool>": Action(name="inspect", node_id="3.1", query="what colour"),
        "<answer>C</answer>": Action(name="answer", answer="C", confidence=0.5),
        'Sure! {"action": "search", "query": "red car"}': Action(name="search", query="red car"),
        'I think expand("node 2.1") is best': Action(name="expand", node_id="2.1"),
        "answer(B, 0.9)": Action(name="answer", answer="B", confidence=0.9),
    }
    for text, want in cases.items():
        assert parse_action(text) == want, text


def test_native_tool_calls_win():
    got = parse_action("", [{"function": {"name": "search", "arguments": json.dumps({"query": "cat"})}}])
    assert got == Action(name="search", query="cat")


def test_failures_say_what_to_do():
    for text in ["", "hello", "<tool_call>nonsense</tool_call>", '{"name": "fly", "arguments": {}}',
                 '<tool_call>{"name": "expand", "arguments": {"node_id": "abc"}}</tool_call>',
                 '{"name": "search", "arguments": {"query": ""}}']:
        r = parse_action(text)
        assert isinstance(r, ParseFailure) and r.error, text


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_never_raises(text):
    r = parse_action(text)
    assert isinstance(r, (Action, ParseFailure))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["expand", "inspect", "search", "answer", "get_caption", "foo"]),
       st.dictionaries(st.sampled_from(["node_id", "query", "answer", "confidence", "x"]),
                       st.one_of(st.text(max_size=20), st.integers(), st.floats(allow_nan=True), st.none(),
                                 st.lists(st.integers(), max_size=3))))
def test_fuzz_json_tool_calls(name, args):
    text = "<tool_call>" + json.dumps({"name": name, "arguments": args}) + "</tool_call>"
    r = parse_action(text)
    assert isinstance(r, (Action, ParseFailure))
    if isinstance(r, Action) and r.name == "answer":
        assert 0.0 <= (r.confidence or 0) <= 1.0


def test_option_index():
    opts = ["roll the handle", "tap their feet", "strum the string"]
    assert option_index("C", opts) == 2
    assert option_index("tap their feet", opts) == 1
    assert option_index("F", opts) is None
