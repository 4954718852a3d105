"""A synthetic Hub of N models, deterministic for a seed, shaped like the real one.

- `Qwen` (the benchmark's family): N/6250 official repos (400 at 2.5M, like the real
  Qwen org) and derivatives making 5% of the Hub: ~70% direct children of an official
  repo (popular repos get most of them), the rest children of earlier derivatives, which
  makes deep chains (mostly quantized copies of fine-tunes of quantized ...), plus merges
  of two parents.
- `meta-llama`: a second family of 2%, same shape, to show one crawl serving both.
- everything else: unrelated repos, a third of them derived from some earlier repo.

Model i is created after model i-1 (and after its parents), so a `sort=createdAt`
listing is the models in reverse order. Items are rendered as the Hub's expanded
listing items (see /work/shared/hub-api.md), about 500 bytes each.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

FIRST_UID = 0x65A000000000000000000000
EPOCH = datetime(2022, 3, 2, tzinfo=UTC)
SPAN_SECONDS = 4 * 365 * 86400
FAMILIES_TOML = """
[families.qwen]
authors = ["Qwen"]
strategy = "auto"

[families.llama]
authors = ["meta-llama"]
strategy = "auto"
"""
_ARCH = ["qwen2", "llama", "mistral", "gemma2", "phi3", "bert", "t5", "gpt2"]
_PIPE = ["text-generation", "image-text-to-text", "feature-extraction", "text-classification"]
_LIB = ["transformers", "gguf", "mlx", "peft", "sentence-transformers"]
_TAGS = [
    json.dumps(
        [
            "transformers",
            "safetensors",
            _ARCH[k],
            _PIPE[k % 4],
            "conversational",
            "license:apache-2.0",
            "autotrain_compatible",
            "text-generation-inference",
            "endpoints_compatible",
            "region:us",
        ],
        separators=(",", ":"),
    )[:-1]
    for k in range(8)
]
_RELATION_DIRECT = ["finetune"] * 50 + ["quantized"] * 35 + ["adapter"] * 10 + ["merge"] * 5
_RELATION_DEEP = ["quantized"] * 70 + ["finetune"] * 25 + ["merge"] * 5


@dataclass
class SynthHub:
    """The models of a synthetic Hub: ids, parents, relations, counters."""

    n: int
    seed: int = 7
    ids: list[str] = field(default_factory=list)
    parents: list[tuple[int, ...]] = field(default_factory=list)
    relation: list[str | None] = field(default_factory=list)
    family: list[str | None] = field(default_factory=list)  # "qwen" / "llama" / None
    base: list[int] = field(default_factory=list)  # downloads_all_time at day 0

    @property
    def official(self) -> int:
        return max(20, self.n // 6250)

    def build(self) -> SynthHub:
        rng = random.Random(self.seed)
        n = self.n
        plan: list[str | None] = [None] * n
        # families spread over the Hub's history: official repos early, derivatives later
        for name, share, official in (("qwen", 0.05, self.official), ("llama", 0.02, 0)):
            size = int(n * share)
            official = official or max(10, self.official // 2)
            start = n // 10
            slots = rng.sample(range(start, n), size)
            slots.sort()
            for k, i in enumerate(slots):
                plan[i] = f"{name}:official" if k < official else name
        members: dict[str, list[int]] = {"qwen": [], "llama": []}
        officials: dict[str, list[int]] = {"qwen": [], "llama": []}
        org = {"qwen": "Qwen", "llama": "meta-llama"}
        self.base = [int(rng.lognormvariate(6, 2.5)) for _ in range(n)]
        for i in range(n):
            p = plan[i]
            if p is not None and p.endswith(":official"):
                name = p.split(":")[0]
                self.ids.append(f"{org[name]}/{name.capitalize()}-{len(officials[name])}-{i}B")
                self.parents.append(())
                self.relation.append(None)
                self.family.append(name)
                # the most derived-from repos are the most downloaded
                self.base[i] = int(5e7 / (len(officials[name]) + 1) ** 1.2)
                officials[name].append(i)
                members[name].append(i)
            elif p is not None:
                offs = officials[p]
                if rng.random() < 0.7 or len(members[p]) == len(offs):
                    # popular official repos get most children: Zipf-like pick
                    parent = offs[min(len(offs) - 1, int(rng.paretovariate(1.2)) - 1)]
                    rel = rng.choice(_RELATION_DIRECT)
                else:
                    # a recent derivative: quantizations of fine-tunes of ... (deep chains)
                    pool = members[p]
                    parent = pool[max(0, len(pool) - 1 - int(rng.expovariate(1 / 200)))]
                    rel = rng.choice(_RELATION_DEEP)
                ps: tuple[int, ...] = (parent,)
                if rel == "merge":
                    other = rng.choice(offs)
                    ps = (parent, other) if other != parent else (parent,)
                suffix = {"quantized": "GGUF", "adapter": "lora", "merge": "merge"}.get(rel, "ft")
                self.ids.append(f"user{rng.randrange(n // 20 + 1)}/{p}-{suffix}-{i}")
                self.parents.append(ps)
                self.relation.append(rel)
                self.family.append(p)
                members[p].append(i)
            else:
                ps = ()
                rel = None
                if i > 100 and rng.random() < 0.33:
                    ps = (rng.randrange(i),)
                    rel = rng.choice(_RELATION_DEEP)
                    if self.family[ps[0]] is not None:  # keep the families' sizes as planned
                        ps, rel = (), None
                self.ids.append(f"org{rng.randrange(n // 10 + 1)}/model-{i}")
                self.parents.append(ps)
                self.relation.append(rel)
                self.family.append(None)
        return self

    def members(self, name: str) -> list[int]:
        return [i for i, f in enumerate(self.family) if f == name]

    def depths(self, name: str) -> dict[int, int]:
        """Members per depth (BFS from the official repos, smallest depth wins)."""
        depth: dict[int, int] = {}
        for i, f in enumerate(self.family):
            if f != name:
                continue
            ds = [depth[p] for p in self.parents[i] if p in depth]
            depth[i] = 0 if not self.parents[i] else min(ds) + 1 if ds else -1
        out: dict[int, int] = {}
        for d in depth.values():
            out[d] = out.get(d, 0) + 1
        return dict(sorted(out.items()))

    def counters(self, i: int, day: int = 0) -> tuple[int, int, int]:
        """(downloads_all_time, downloads_30d, likes) of model i, day `day` of a history."""
        base = self.base[i]
        rate = max(1, base // 500)
        return base + rate * day, rate * 30, int(base**0.3)

    def created_at(self, i: int) -> str:
        t = EPOCH + timedelta(seconds=SPAN_SECONDS * i // self.n)
        return t.isoformat()[:19] + ".000Z"

    def item(self, i: int, day: int = 0) -> dict[str, object]:
        repo_id = self.ids[i]
        all_time, d30, likes = self.counters(i, day)
        tags = [
            "transformers",
            "safetensors",
            _ARCH[i % 8],
            _PIPE[i % 4],
            "conversational",
            "license:apache-2.0",
            "autotrain_compatible",
            "text-generation-inference",
            "endpoints_compatible",
            "region:us",
        ]
        rel = self.relation[i]
        for p in self.parents[i]:
            tags.append(f"base_model:{self.ids[p]}")
            if rel is not None:
                tags.append(f"base_model:{rel}:{self.ids[p]}")
        created = self.created_at(i)
        return {
            "_id": f"{FIRST_UID + i:024x}",
            "id": repo_id,
            "author": repo_id.split("/", 1)[0],
            "downloads": d30,
            "downloadsAllTime": all_time,
            "likes": likes,
            "createdAt": created,
            "lastModified": created,
            "tags": tags,
            "pipeline_tag": _PIPE[i % 4],
            "library_name": _LIB[i % 5],
        }

    def item_json(self, i: int, day: int = 0) -> bytes:
        """`item` as compact JSON (ids and tags are plain ASCII: no escaping needed)."""
        repo_id = self.ids[i]
        all_time, d30, likes = self.counters(i, day)
        rel = self.relation[i]
        lineage = ""
        for p in self.parents[i]:
            lineage += f',"base_model:{self.ids[p]}"'
            if rel is not None:
                lineage += f',"base_model:{rel}:{self.ids[p]}"'
        created = self.created_at(i)
        author = repo_id.split("/", 1)[0]
        return (
            f'{{"_id":"{FIRST_UID + i:024x}","id":"{repo_id}","author":"{author}",'
            f'"downloads":{d30},"downloadsAllTime":{all_time},"likes":{likes},'
            f'"createdAt":"{created}","lastModified":"{created}","tags":{_TAGS[i % 8]}{lineage}],'
            f'"pipeline_tag":"{_PIPE[i % 4]}","library_name":"{_LIB[i % 5]}"}}'
        ).encode()

    def newest_first(self) -> Iterator[int]:
        return iter(range(self.n - 1, -1, -1))
