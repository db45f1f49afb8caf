"""access-log: reads web server access logs (Common and Combined Log Format).

    127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://ref/" "Mozilla/5.0"

One row per line: where it came from (`source_path`, byte `offset` of the
line in its file), the client, user, time (UTC), method, path, protocol,
status, response bytes, and for the combined format the referer and user
agent (null otherwise). A line that does not parse is rejected with its
byte offset and does not fail the split. Files are cut at newlines, so a
large log is read by several workers at once.

Options: none.
"""

import datetime
import re

import runtime_plugin as rp
from runtime_plugin import arrow

LINE = re.compile(
    r'(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<bytes>\d+|-)'
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?\s*$'
)
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
TIME = re.compile(r"(\d{2})/(\w{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")
EPOCH = datetime.datetime(1970, 1, 1)

SCHEMA = arrow.Schema([
    arrow.Field("source_path", arrow.utf8, nullable=False),
    arrow.Field("offset", arrow.int64, nullable=False),
    arrow.Field("client", arrow.utf8, nullable=False),
    arrow.Field("user", arrow.utf8),
    arrow.Field("time", arrow.timestamp("us", "UTC"), nullable=False),
    arrow.Field("method", arrow.utf8),
    arrow.Field("path", arrow.utf8),
    arrow.Field("protocol", arrow.utf8),
    arrow.Field("status", arrow.int32, nullable=False),
    arrow.Field("bytes", arrow.int64),
    arrow.Field("referer", arrow.utf8),
    arrow.Field("user_agent", arrow.utf8),
])


def parse_time(text):
    """Microseconds since the epoch (UTC) of `10/Oct/2000:13:55:36 -0700`."""
    m = TIME.match(text)
    if not m or m.group(2) not in MONTHS:
        raise ValueError("bad time `%s`" % text)
    d, mon, y, hh, mm, ss, sign, oh, om = m.groups()
    local = datetime.datetime(int(y), MONTHS[mon], int(d), int(hh), int(mm), int(ss))
    shift = datetime.timedelta(hours=int(oh), minutes=int(om))
    utc = local - shift if sign == "+" else local + shift
    delta = utc - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000000


def dash(value):
    return None if value is None or value == "-" else value


class AccessLog(rp.Reader):
    """Web server access logs (Common and Combined Log Format), one row per request"""

    @classmethod
    def describe(cls):
        return rp.PluginInfo("access-log", "0.1.0", cls.__doc__, outputs=["requests"],
                             planning=rp.Planning.delimited(10))

    def __init__(self, options):
        rp.check_options(options, ())

    def output_schemas(self):
        return {"requests": SCHEMA}

    def read(self, split, file, input):
        path = file.path if file else split.id
        at = split.offset
        for _, raw in input.lines():
            offset, at = at, at + len(raw) + 1
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if not text.strip():
                continue
            m = LINE.match(text)
            try:
                if not m:
                    raise ValueError("not an access log line")
                time = parse_time(m.group("time"))
            except ValueError as e:
                self.reject("byte %d" % offset, str(e))
                continue
            parts = m.group("request").split(" ")
            method, target, protocol = (parts + [None, None])[:3] if len(parts) <= 3 else (None, None, None)
            size = m.group("bytes")
            yield {
                "source_path": path, "offset": offset, "client": m.group("client"),
                "user": dash(m.group("user")), "time": time, "method": method, "path": target,
                "protocol": protocol, "status": int(m.group("status")),
                "bytes": None if size == "-" else int(size),
                "referer": dash(m.group("referer")), "user_agent": dash(m.group("agent")),
            }


Reader = rp.export_reader(AccessLog)
