"""
Judges raw HTTP responses of iot-jobs-local by botocore's own models: output shapes (required
members, types, enums, patterns, lengths, ranges, timestamps, no undeclared members), the
declared HTTP status, and each error's code and status against the operation's declared errors.
Also makes model-violating values for input members (for "an invalid value is refused").
Independent of the service's TypeScript: it reads the models itself and translates the Java
regexes on its own.
"""
import json
import re
import sys
import unicodedata

try:  # the `regex` module knows \p{..}; without it the Unicode classes are built from unicodedata
    import regex as _regex
except ImportError:  # pragma: no cover - depends on the machine
    _regex = None

_POSIX = {r"\p{Graph}": r"\x21-\x7E", r"\p{Upper}": "A-Z", r"\p{Digit}": "0-9", r"\p{Cntrl}": r"\x00-\x1F\x7F"}
_CATEGORY_CACHE: dict = {}


def _category_class(cat: str) -> str:
    """A character-class body (ranges) for Unicode general category `cat` (one or two letters)."""
    if cat not in _CATEGORY_CACHE:
        ranges = []
        start = prev = None
        for cp in range(sys.maxunicode + 1):
            if unicodedata.category(chr(cp)).startswith(cat):
                if start is None:
                    start = cp
                elif cp != prev + 1:
                    ranges.append((start, prev))
                    start = cp
                prev = cp
        if start is not None:
            ranges.append((start, prev))
        _CATEGORY_CACHE[cat] = "".join(
            f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges
        )
    return _CATEGORY_CACHE[cat]


def java_regex(pattern: str):
    """Compiles a model pattern (Java, whole-string match) for Python."""
    p = pattern
    for k, v in _POSIX.items():
        p = p.replace(k, v)
    if _regex is not None:
        return _regex.compile(p, _regex.V0)
    p = re.sub(r"\\p\{(\w{1,2})\}", lambda m: _category_class(m.group(1)), p)
    return re.compile(p)


def full_match(compiled, value: str) -> bool:
    return compiled.fullmatch(value) is not None


class Checker:
    def __init__(self, service_model):
        self.model = service_model  # botocore.model.ServiceModel
        self._patterns: dict = {}

    def pattern(self, p: str):
        if p not in self._patterns:
            self._patterns[p] = java_regex(p)
        return self._patterns[p]

    # ---- output ------------------------------------------------------------------------------

    def check_value(self, shape, value, path: str, findings: list) -> None:
        t = shape.type_name
        md = shape.metadata
        if t == "structure":
            if not isinstance(value, dict):
                return findings.append(f"{path}: expected an object, got {type(value).__name__}")
            for name in shape.required_members:
                if name not in value:
                    findings.append(f"{path}.{name}: required member missing")
            for name, v in value.items():
                if name not in shape.members:
                    findings.append(f"{path}.{name}: undeclared member")
                    continue
                if v is None:
                    findings.append(f"{path}.{name}: null")
                    continue
                self.check_value(shape.members[name], v, f"{path}.{name}", findings)
        elif t == "list":
            if not isinstance(value, list):
                return findings.append(f"{path}: expected a list")
            self._range(md, len(value), path, "length", findings)
            for i, item in enumerate(value):
                self.check_value(shape.member, item, f"{path}[{i}]", findings)
        elif t == "map":
            if not isinstance(value, dict):
                return findings.append(f"{path}: expected a map")
            for k, v in value.items():
                self.check_value(shape.key, k, f"{path}<key {k!r}>", findings)
                self.check_value(shape.value, v, f"{path}[{k!r}]", findings)
        elif t == "string":
            if not isinstance(value, str):
                return findings.append(f"{path}: expected a string, got {value!r:.60}")
            self._range(md, len(value), path, "length", findings)
            if shape.enum and value not in shape.enum:
                findings.append(f"{path}: {value!r} is not one of the enum {shape.enum}")
            if "pattern" in md and not full_match(self.pattern(md["pattern"]), value):
                findings.append(f"{path}: {value!r:.60} does not match {md['pattern']}")
        elif t in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                return findings.append(f"{path}: expected an integer, got {value!r}")
            self._range(md, value, path, "value", findings)
        elif t in ("double", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                findings.append(f"{path}: expected a number, got {value!r}")
        elif t == "boolean":
            if not isinstance(value, bool):
                findings.append(f"{path}: expected a boolean, got {value!r}")
        elif t == "timestamp":
            # REST-JSON timestamps are epoch seconds on the wire.
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not is_number or not 946684800 <= value <= 4102444800:
                findings.append(f"{path}: expected epoch seconds, got {value!r}")
        elif t == "blob":
            if not isinstance(value, str):
                findings.append(f"{path}: expected a base64 string")

    @staticmethod
    def _range(md, n, path, what, findings):
        if "min" in md and n < md["min"]:
            findings.append(f"{path}: {what} {n} below the model's min {md['min']}")
        if "max" in md and n > md["max"]:
            findings.append(f"{path}: {what} {n} above the model's max {md['max']}")

    def check_response(self, op_name: str, response: dict) -> list:
        """Findings for one raw response ({status_code, headers, body})."""
        op = self.model.operation_model(op_name)
        findings: list = []
        status = response["status_code"]
        headers = {k.lower(): v for k, v in response["headers"].items()}
        body = response["body"]
        if status >= 300:
            code = headers.get("x-amzn-errortype", "").split(":")[0]
            declared = {e.name: e.metadata.get("error", {}).get("httpStatusCode") for e in op.error_shapes}
            if code == "NotImplementedException" and status == 501:
                return findings  # the documented answer for what is not implemented here
            if code not in declared:
                findings.append(f"{op_name}: error {code or '(no x-amzn-ErrorType)'} is not declared by the operation")
            elif declared[code] != status:
                findings.append(f"{op_name}: {code} came with HTTP {status}; the model declares {declared[code]}")
            try:
                parsed = json.loads(body or b"{}")
                if not isinstance(parsed.get("message"), str):
                    findings.append(f"{op_name}: error body has no message")
            except ValueError:
                findings.append(f"{op_name}: error body is not JSON")
            return findings
        expected = op.http.get("responseCode", 200)
        if status != expected:
            findings.append(f"{op_name}: HTTP {status}; the model declares {expected}")
        out = op.output_shape
        if out is None:
            return findings
        payload = out.serialization.get("payload")
        if payload is not None and out.members[payload].type_name == "blob":
            # A streamed blob: the caller reads and judges it (reading it here would consume it).
            return findings
        try:
            parsed = json.loads(body or b"{}")
        except ValueError:
            return findings + [f"{op_name}: the body is not JSON"]
        body_shape_members = {n: m for n, m in out.members.items() if "location" not in m.serialization}
        for name in out.required_members:
            if name in body_shape_members and name not in parsed:
                findings.append(f"{op_name}.{name}: required member missing")
        for name, value in parsed.items():
            if name not in body_shape_members:
                findings.append(f"{op_name}.{name}: undeclared member")
            elif value is None:
                findings.append(f"{op_name}.{name}: null")
            else:
                self.check_value(body_shape_members[name], value, f"{op_name}.{name}", findings)
        return findings

    # ---- invalid inputs ----------------------------------------------------------------------

    def violations(self, shape, depth: int = 0):
        """(description, value) pairs that break one constraint of `shape`, with the right JSON type."""
        md = shape.metadata
        t = shape.type_name
        out = []
        if t == "string":
            if shape.enum:
                out.append(("not in the enum", "NOT_A_MODEL_VALUE"))
            if "max" in md and md["max"] < 100_000:
                out.append((f"longer than {md['max']}", "a" * (md["max"] + 1)))
            if md.get("min", 0) > 1:
                out.append((f"shorter than {md['min']}", "a" * (md["min"] - 1)))
            if "pattern" in md and not shape.enum:
                compiled = self.pattern(md["pattern"])
                for candidate in ("a\u0000b", "a\u001bb", "a\nb", "a b", "ab!", "A", "a"):
                    fits = md.get("min", 0) <= len(candidate) <= md.get("max", 10**9)
                    if fits and not full_match(compiled, candidate):
                        out.append((f"not matching {md['pattern']}", candidate))
                        break
        elif t in ("integer", "long"):
            if "min" in md:
                out.append((f"below {md['min']}", md["min"] - 1))
            if "max" in md:
                out.append((f"above {md['max']}", md["max"] + 1))
        elif t == "map" and depth < 4:
            for what, bad in self.violations(shape.key, depth + 1):
                if isinstance(bad, str) and bad:
                    out.append((f"a key {what}", {bad: "v"}))
            for what, bad in self.violations(shape.value, depth + 1):
                out.append((f"a value {what}", {"k": bad}))
        elif t == "structure" and depth < 4:
            for name, member in shape.members.items():
                for what, bad in self.violations(member, depth + 1):
                    out.append((f"{name} {what}", {name: bad}))
        elif t == "list" and depth < 4:
            if "max" in md and md["max"] <= 100:
                sample = self.sample(shape.member)
                if sample is not None:
                    out.append((f"more than {md['max']} items", [sample] * (md["max"] + 1)))
            for what, bad in self.violations(shape.member, depth + 1):
                out.append((f"an item {what}", [bad]))
        return out

    def sample(self, shape):
        """A simple valid value for strings and integers (None when there is none to make)."""
        md = shape.metadata
        if shape.type_name == "string":
            if shape.enum:
                return shape.enum[0]
            for candidate in ("a", "a1", "A_1", "arn:aws:iot:us-east-1:123456789012:thing/a"):
                matches = "pattern" not in md or full_match(self.pattern(md["pattern"]), candidate)
                if len(candidate) >= md.get("min", 0) and matches:
                    return candidate
            return None
        if shape.type_name in ("integer", "long"):
            return md.get("min", 1)
        return None
