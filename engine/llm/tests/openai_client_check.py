"""Reads the fake Groq with the official `openai` Python client, so the fake is checked
against a real OpenAI-compatible client and not only against our own.

Usage: python3 openai_client_check.py BASE_URL
Prints one JSON object with what the client parsed. Run by
engine/llm/tests/it/openai_client.rs, which scripts the fake's replies.
"""

import json
import sys

from openai import OpenAI


def main() -> None:
    base_url = sys.argv[1]
    client = OpenAI(base_url=base_url, api_key="gsk_python_check", max_retries=0, timeout=20)
    out = {"openai_version": __import__("openai").__version__}

    # 1. A streamed text reply with usage.
    stream = client.chat.completions.create(
        model="llama-3.3-70b-versatile",
        messages=[{"role": "user", "content": "Say hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage, tiers = [], None, None, []
    for chunk in stream:
        if chunk.usage is not None:
            usage = {"prompt_tokens": chunk.usage.prompt_tokens, "completion_tokens": chunk.usage.completion_tokens, "total_tokens": chunk.usage.total_tokens}
        if getattr(chunk, "service_tier", None):
            tiers.append(chunk.service_tier)
        for choice in chunk.choices:
            if choice.delta.content:
                text.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    out["text"] = {"pieces": text, "finish_reason": finish, "usage": usage, "service_tiers": tiers}

    # 2. A fragmented tool call.
    stream = client.chat.completions.create(
        model="llama-3.3-70b-versatile",
        messages=[{"role": "user", "content": "Find me a jacket"}],
        tools=[{"type": "function", "function": {"name": "search_products", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}],
        tool_choice="auto",
        stream=True,
        stream_options={"include_usage": True},
    )
    calls, finish, usage = {}, None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = {"prompt_tokens": chunk.usage.prompt_tokens, "completion_tokens": chunk.usage.completion_tokens}
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function is not None and tc.function.name:
                    slot["name"] += tc.function.name
                if tc.function is not None and tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
            if choice.finish_reason:
                finish = choice.finish_reason
    out["tool_call"] = {"calls": [calls[i] for i in sorted(calls)], "finish_reason": finish, "usage": usage}

    print(json.dumps(out))


if __name__ == "__main__":
    main()
