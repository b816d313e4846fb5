"""What every test app compiles alike, compiled once per test run: werkzeug's URL builders and Jinja's templates.

Most tests build an app of their own (the `app` fixture), and most of that set-up went on code
generation that gives the same result for every app: werkzeug writes and compiles two Python
functions per URL rule (a hundred rules an app), and each app's Jinja environment compiles every
template it renders afresh. Both depend only on their input (the rule; the template source), so the
run keeps what it compiled and the next app reuses it. No behaviour changes: a rule gets the very
function werkzeug would have generated for it, and a template whose source changed is compiled again
(Jinja compares the source's checksum).
"""
from jinja2 import BytecodeCache
from werkzeug.routing import rules

werkzeug_builder = rules.Rule._compile_builder
_builders = {}


def shared_builder(self, append_unknown=True):
    """Rule._compile_builder, remembered per rule text, parsed parts, default names and append_unknown.

    werkzeug's generated builder reads the rule's converters through its `self` argument, so one
    function serves every Rule of the same shape. Where a default value is folded into the URL itself
    (a converter's to_url at compile time) the rule is compiled as usual."""
    defaults = self.defaults or {}
    if any(is_dynamic and name in defaults for is_dynamic, name in self._trace):
        return werkzeug_builder(self, append_unknown)
    key = (self.rule, tuple(self._trace), tuple(defaults), append_unknown)
    if key not in _builders:
        _builders[key] = werkzeug_builder(self, append_unknown)
    return _builders[key]


def cache_url_builders():
    """From here on, this process's werkzeug Rules share their compiled URL builders (idempotent)."""
    rules.Rule._compile_builder = shared_builder


class TemplateCodeCache(BytecodeCache):
    """Jinja's compiled template code kept in memory, by template and source checksum, for every app of the run."""

    def __init__(self):
        self._code = {}

    def load_bytecode(self, bucket):
        bucket.code = self._code.get((bucket.key, bucket.checksum))

    def dump_bytecode(self, bucket):
        self._code[(bucket.key, bucket.checksum)] = bucket.code


TEMPLATE_CODE = TemplateCodeCache()
