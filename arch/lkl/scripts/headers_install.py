#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Install the LKL uapi headers under a private "lkl/" namespace.

usage: headers_install.py --uapi DIR --defs SYSCALL_DEFS --out OUTDIR [-j N]

DIR is what "make ARCH=lkl headers_install" installed (linux/, asm/,
asm-generic/, ...).  Every header is written to OUTDIR/lkl/<same path> so
that a host program can include it next to the C library's headers and the
host's own kernel headers without a single clash:

 * #include <linux/x.h> (any installed top directory) becomes
   #include <lkl/linux/x.h>; libc includes and "local.h" includes stay.

 * Every name the headers define -- macros, struct/union/enum tags, enum
   constants, typedefs and static inline functions -- is renamed,
   whole-word and consistently in all headers (comments and string
   literals are left alone).  The case of the name's first letter picks
   the prefix, so that a family of constants keeps one prefix
   (ETHTOOL_LINK_MODE_10baseT_Half_BIT and ETHTOOL_LINK_MODE_MASK_NBITS):

       starts with '_', first letter upper case  ->  __LKL<name>
       starts with '_', first letter lower case  ->  __lkl<name>
       other names,     first letter upper case  ->  LKL_<name>
       other names,     first letter lower case  ->  lkl_<name>
       system call numbers __NR_*, __NR3264_*    ->  __lkl<name>

   e.g. __u32 -> __lkl__u32, __kernel_pid_t -> __lkl__kernel_pid_t,
   __NR_read -> __lkl__NR_read (the spelling LKL programs use),
   __BITS_PER_LONG -> __LKL__BITS_PER_LONG, _IOW -> __LKL_IOW,
   sockaddr_in -> lkl_sockaddr_in, EINVAL -> LKL_EINVAL.  Names that
   already start with lkl_/LKL_ (after any underscores) are kept.  A macro
   that builds defined names with ## (PREFIX_ ## x) gets its PREFIX_
   renamed the same way.

 * The preprocessor sees the LKL kernel, not the host: configuration knobs
   the headers test but never define (all upper case, e.g. SA_RESTORER,
   __ARCH_WANT_*, VIRTIO_NET_NO_LEGACY) are renamed too, and so is
   __GLIBC__, so libc-compat.h, stat.h, ... always take their "no libc"
   branch: with prefixed names there is nothing left to coordinate.

 * Never renamed: C keywords and GCC's __keyword__ spellings, names of
   the form __NAME__ that the headers do not define (compiler predefines
   such as __GNUC__, __x86_64__, __SIZEOF_LONG__), __KERNEL__,
   __ASSEMBLY__, __cplusplus, standard C and POSIX type names
   (int32_t, size_t, ...), names the headers only use (struct sockaddr,
   INT_MAX, ... come from libc), and libc's byte order macros (__BYTE_ORDER,
   __LITTLE_ENDIAN, __BIG_ENDIAN): LKL always runs in the host's byte order.

 * Renamed although not defined: struct members spelled like an object-like
   glibc macro (st_atime is st_atim.tv_sec once <sys/stat.h> is in:
   struct lkl_stat has lkl_st_atime) and members spelled like a C++ keyword
   (virtio_net_ctrl_hdr's class is lkl_class), so that the headers compile
   after any libc header and as C++.

 * A header that takes types from libc which the uapi also defines
   (input.h's struct timeval via <sys/time.h>) also includes the lkl
   header that defines them (<lkl/linux/time.h>): the renamed spelling
   needs its definition.

 * <lkl/linux/utsname.h> also defines lkl_utsname as lkl_new_utsname, the
   struct uname() fills, under the name LKL programs use.

asm/host_ops.h is the kernel/host ABI and already lives in the lkl_
namespace: it is installed unchanged (were it to include an installed
header, only that include would be redirected).

OUTDIR/lkl/asm/syscalls.h is generated from SYSCALL_DEFS, one
"<nargs> _<name> <type>, <arg>, ..." line per SYSCALL_DEFINE: for every
system call number __lkl__NR_<name>, a

    static inline long lkl_sys_<name>(<args>)

wrapper around lkl_syscall(), guarded by #ifdef __lkl__NR_<name> and
sorted by name.  Kernel types become their lkl uapi spelling (size_t ->
__lkl__kernel_size_t, struct stat * -> struct lkl_stat *, __user dropped);
a type the uapi lacks becomes long, or void * behind a pointer.
Parameters named like a C or C++ keyword get a '_' appended.  The table in
asm-generic/unistd.h decides which kernel entry point a number runs
(__NR_uname -> sys_newuname, __NR_fstat -> sys_newfstat, ...).
"""

import argparse
import bisect
import collections
import concurrent.futures
import os
import re
import sys

# ---------------------------------------------------------------------------
# Names with a rule of their own

C_KEYWORDS = set("""
    auto break case char const continue default do double else enum extern
    float for goto if inline int long register restrict return short signed
    sizeof static struct switch typedef union unsigned void volatile while
    _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn
    _Static_assert _Thread_local _Float16 _Float32 _Float64 _Float128
""".split())

# C++ keywords that C headers may use as member names ("__u8 class;"):
# renamed wherever they appear, so the headers compile as C++.
CXX_ONLY_KEYWORDS = set("""
    and and_eq bitand bitor catch class co_await co_return co_yield compl
    concept const_cast consteval constexpr constinit decltype delete
    dynamic_cast explicit export friend mutable namespace new noexcept not
    not_eq nullptr operator or or_eq private protected public
    reinterpret_cast requires static_cast template this throw try typeid
    typename using virtual xor xor_eq
""".split())

# C++ keywords that C also knows (keywords, macros or typedefs of libc).
CXX_KEYWORDS = CXX_ONLY_KEYWORDS | set("""
    alignas alignof asm bool char8_t char16_t char32_t false static_assert
    thread_local true wchar_t
""".split())

GCC_KEYWORDS = set("""
    __alignof __alignof__ __asm __asm__ __attribute __attribute__
    __auto_type __complex __complex__ __const __const__ __extension__
    __func__ __imag __imag__ __inline __inline__ __int128 __label__ __real
    __real__ __restrict __restrict__ __signed __signed__ __thread __typeof
    __typeof__ __volatile __volatile__ __FUNCTION__ __PRETTY_FUNCTION__
    __VA_ARGS__ __VA_OPT__ _Pragma
""".split())

# Preprocessor words: "defined" is an operator, the rest follow '#'.
CPP_WORDS = set("""
    defined define undef include include_next if ifdef ifndef elif elifdef
    elifndef else endif error warning pragma line
""".split())

# Provided by the compiler or the C library and meant as such.
KEEP = set("""
    __KERNEL__ __ASSEMBLY__ __cplusplus
    __BYTE_ORDER __LITTLE_ENDIAN __BIG_ENDIAN __PDP_ENDIAN
    NULL offsetof bool true false
    size_t ssize_t ptrdiff_t wchar_t intptr_t uintptr_t
    int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t
    u_int8_t u_int16_t u_int32_t u_int64_t u_char u_short u_int u_long
    caddr_t dev_t ino_t
""".split())

KEEP_PREFIXES = ("__builtin_", "__has_", "__atomic_", "__sync_")

# Tested by the headers to coordinate with the C library; renamed so the
# test is always false (lkl names never collide with libc).
LIBC_SENTINELS = {"__GLIBC__"}

# Object-like libc macros spelled like uapi struct members.
LIBC_MEMBER_MACROS = set("""
    st_atime st_mtime st_ctime sa_handler sa_sigaction sched_priority
    d_fileno arp_op msg_cbytes
""".split())

# Installed with their includes redirected but no name changed.
VERBATIM = {"asm/host_ops.h"}

# Added at the end of an installed header: aliases upstream LKL programs use.
EXTRAS = {
    "linux/utsname.h": (
        "\n/* uname() fills struct new_utsname; LKL programs call it "
        "struct lkl_utsname. */\n"
        "#ifndef lkl_utsname\n"
        "#define lkl_utsname lkl_new_utsname\n"
        "#endif\n"),
}

GENERATED = "asm/syscalls.h"

COMPILER_NAME_RE = re.compile(r"__\w+__\Z")
PREFIXED_RE = re.compile(r"_*(lkl|LKL)_")
UPPER_RE = re.compile(r"_*[A-Z][A-Z0-9_]*\Z")
LETTER_RE = re.compile(r"[A-Za-z]")


def lkl_name(name):
    """The lkl_ spelling of @name (see the naming rules above)."""
    if name.startswith(("__NR_", "__NR3264_")):
        return "__lkl" + name
    letter = LETTER_RE.search(name)
    upper = letter is None or letter.group().isupper()
    if name.startswith("_"):
        return ("__LKL" if upper else "__lkl") + name
    return ("LKL_" if upper else "lkl_") + name


def never_renamed(name):
    return (name in C_KEYWORDS or name in CXX_KEYWORDS or
            name in GCC_KEYWORDS or name in CPP_WORDS or name in KEEP or
            name.startswith(KEEP_PREFIXES) or PREFIXED_RE.match(name))


# ---------------------------------------------------------------------------
# Pass 1: what does each header define?

# Comments become a space, strings stay, line splices disappear.
STRIP_RE = re.compile(r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')"""
                      r"|/\*.*?\*/|//[^\n]*", re.S)
# C tokens: strings, character constants, pp-numbers, identifiers, punctuators.
CTOKEN_RE = re.compile(r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'"""
                       r"|\.?\d(?:[eEpP][+-]|[\w.])*|[A-Za-z_]\w*|\S)")
IDENT_RE = re.compile(r"[A-Za-z_]\w*")
DIRECTIVE_RE = re.compile(r"\s*#\s*(\w+)\s*(.*)")
DEFINE_RE = re.compile(r"([A-Za-z_]\w*)(?:\(([^)]*)\))?(.*)")
BODY_TOKEN_RE = re.compile(r"##|[A-Za-z_]\w*|\S")


def is_ident(tok):
    return tok[0].isalpha() or tok[0] == "_"


def strip_comments(text):
    text = STRIP_RE.sub(lambda m: m.group(1) or " ", text)
    return text.replace("\\\n", "")


def matching(toks, i, open_tok, close_tok):
    """Index of the token closing the group opened at toks[i]."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j] == open_tok:
            depth += 1
        elif toks[j] == close_tok:
            depth -= 1
            if depth == 0:
                return j
    return len(toks) - 1


def enumerators(toks, i):
    """Constants of the enum body whose '{' is toks[i]."""
    names = []
    depth = 0
    expect = True
    for tok in toks[i + 1:matching(toks, i, "{", "}")]:
        if tok in "([":
            depth += 1
        elif tok in ")]":
            depth -= 1
        elif tok == "," and depth == 0:
            expect = True
        elif expect and is_ident(tok):
            names.append(tok)
            expect = False
    return names


def declarator_name(toks):
    """Name declared by one typedef declarator (no braces or brackets)."""
    for k, tok in enumerate(toks):
        if tok == "(":
            inner = toks[k + 1:]
            if inner and inner[0] in ("*", "^"):
                for t in inner:
                    if t == ")":
                        break
                    if is_ident(t) and t not in C_KEYWORDS:
                        return t
            for t in reversed(toks[:k]):
                if is_ident(t):
                    return t
            return None
    idents = [t for t in toks if is_ident(t)]
    return idents[-1] if idents else None


def typedef_names(toks):
    """Names declared by the tokens of a typedef, between it and its ';'."""
    flat = []
    k = 0
    while k < len(toks):
        tok = toks[k]
        if tok == "{":
            k = matching(toks, k, "{", "}")
        elif tok == "[":
            k = matching(toks, k, "[", "]")
        elif tok in ("__attribute__", "__attribute") and \
                k + 1 < len(toks) and toks[k + 1] == "(":
            k = matching(toks, k + 1, "(", ")")
        else:
            flat.append(tok)
        k += 1
    names = []
    depth = 0
    start = 0
    for k, tok in enumerate(flat + [","]):
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif tok == "," and depth == 0:
            name = declarator_name(flat[start:k])
            if name:
                names.append(name)
            start = k + 1
    return names


def scan_code(toks):
    """Names defined by C tokens: (all of them, the typedefs among them)."""
    names, typedefs = set(), set()
    depth = 0
    n = len(toks)
    for i, tok in enumerate(toks):
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
        elif tok in ("struct", "union", "enum"):
            body = i + 1
            if body < n and is_ident(toks[body]):
                body += 1
                if body < n and toks[body] == "{":
                    names.add(toks[i + 1])
            if tok == "enum" and body < n and toks[body] == "{":
                names.update(enumerators(toks, body))
        elif tok == "__struct_group" and i + 2 < n and is_ident(toks[i + 2]):
            names.add(toks[i + 2])          # __struct_group(TAG, ...)
        elif tok == "typedef":
            end = i + 1
            level = 0
            while end < n and (toks[end] != ";" or level):
                if toks[end] == "{":
                    level += 1
                elif toks[end] == "}":
                    level -= 1
                end += 1
            typedefs.update(typedef_names(toks[i + 1:end]))
        elif depth == 0 and is_ident(tok) and i + 1 < n and \
                toks[i + 1] == "(" and tok not in C_KEYWORDS and \
                tok not in GCC_KEYWORDS:
            close = matching(toks, i + 1, "(", ")")
            if close + 1 < n and toks[close + 1] == "{":
                names.add(tok)              # static inline function
    return names | typedefs, typedefs


def scan_paste(body, params):
    """Pasting in one macro body: (identifiers that start a name built
    with ##, indexes of the parameters used only as name fragments)."""
    params = IDENT_RE.findall(params or "")
    toks = BODY_TOKEN_RE.findall(body)
    heads, glued, plain = set(), set(), set()
    for k, tok in enumerate(toks):
        if not is_ident(tok):
            continue
        before = toks[k - 1] if k else ""
        after = toks[k + 1] if k + 1 < len(toks) else ""
        # ", ## args" is GNU's comma swallowing, not pasting
        pasted = after == "##" or \
            (before == "##" and (k < 2 or toks[k - 2] != ","))
        if tok in params:
            (glued if pasted else plain).add(params.index(tok))
        elif after == "##" and before != "##":
            heads.add(tok)
    return heads, frozenset(glued - plain)


HeaderInfo = collections.namedtuple(
    "HeaderInfo", "defined typedefs tested heads pasting includes")


def scan_header(path):
    """What one header defines, tests with #if, pastes with ## and
    includes."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        text = strip_comments(f.read())
    defined, tested, heads, includes = set(), set(), set(), set()
    pasting = {}
    code = []
    for line in text.split("\n"):
        m = DIRECTIVE_RE.match(line)
        if not m:
            code.append(line)
            continue
        directive, rest = m.groups()
        if directive == "define":
            m = DEFINE_RE.match(rest)
            if m:
                name, params, body = m.groups()
                defined.add(name)
                if "##" in body:
                    more_heads, pasted = scan_paste(body, params)
                    heads |= more_heads
                    if pasted:
                        pasting[name] = pasting.get(name, frozenset()) | \
                            pasted
        elif directive in ("if", "ifdef", "ifndef", "elif", "elifdef",
                           "elifndef"):
            tested.update(IDENT_RE.findall(rest))
        elif directive == "include" and rest.startswith("<"):
            includes.add(rest[1:].split(">", 1)[0].strip())
    names, typedefs = scan_code(CTOKEN_RE.findall("\n".join(code)))
    return HeaderInfo(defined | names, typedefs, tested, heads, pasting,
                      includes)


def build_renames(defined, tested, heads):
    """Map every name to rename to its lkl_ spelling."""
    renames = {}
    for name in defined:
        if not never_renamed(name):
            renames[name] = lkl_name(name)
    for name in tested - defined:
        if UPPER_RE.match(name) and not COMPILER_NAME_RE.match(name) and \
                not never_renamed(name):
            renames[name] = lkl_name(name)
    for name in LIBC_SENTINELS | LIBC_MEMBER_MACROS | CXX_ONLY_KEYWORDS:
        renames[name] = lkl_name(name)

    # "FOO_ ## x" builds names: FOO_ is renamed like the names it builds.
    ordered = sorted(renames)
    for head in heads:
        if head in renames or never_renamed(head):
            continue
        new = lkl_name(head)
        lo = bisect.bisect_left(ordered, head)
        hi = bisect.bisect_left(ordered, head + "\x7f")
        if all(renames[n] == new + n[len(head):] for n in ordered[lo:hi]):
            renames[head] = new
        else:
            print(f"warning: '{head} ##' builds names that cannot all be "
                  f"renamed consistently", file=sys.stderr)
    return renames


# ---------------------------------------------------------------------------
# Pass 2: rewrite

REWRITE_RE = re.compile(r"""
    (?P<include>^[ \t]*\#[ \t]*include[ \t]*<(?P<path>[^>\n]*)>)
  | (?P<directive>^[ \t]*\#[ \t]*\w+)
  | (?P<skip>/\*.*?\*/ | //[^\n]*
           | "(?:\\.|[^"\\\n])*" | '(?:\\.|[^'\\\n])*'
           | \.?\d(?:[eEpP][+-]|[\w.])*)
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<punct>[(),])
""", re.X | re.S | re.M)

# A header that takes these types from libc gets them from lkl's uapi,
# where they are renamed: <sys/time.h> brings struct timeval, ...
LIBC_EQUIVALENTS = {
    "time.h": ["linux/time.h"],
    "sys/time.h": ["linux/time.h"],
    "sys/ioctl.h": ["linux/ioctl.h"],
    "netinet/in.h": ["linux/in.h", "linux/in6.h"],
    "netinet/if_ether.h": ["linux/if_ether.h"],
}


class Rewriter:
    """Renames the names of one header and redirects its includes.

    Arguments that a macro only pastes with ## are name fragments
    (NILFS_CPINFO_FNS(MINOR, minor) builds NILFS_CPINFO_MINOR): they are
    left as written, the macro renames what it builds.
    """

    def __init__(self, renames, topdirs, pasting):
        self.renames = renames
        self.topdirs = topdirs
        self.pasting = pasting          # macro -> indexes of pasted args
        self.reset()

    def reset(self):
        self.after_define = False
        self.pending = None             # pasted args of a macro just named
        self.call = None                # [pasted args, paren depth, arg]

    def rewrite(self, text):
        self.reset()
        return REWRITE_RE.sub(self.token, text)

    def token(self, m):
        kind = m.lastgroup
        text = m.group()
        if kind == "skip":
            return text
        if kind == "ident":
            after_define, self.after_define = self.after_define, False
            self.pending = None
            if self.call:
                if self.call[2] in self.call[0]:
                    return text             # a pasted argument
            elif text in self.pasting and not after_define:
                self.pending = self.pasting[text]
            return self.renames.get(text, text)
        if kind == "punct":
            self.after_define = False
            pending, self.pending = self.pending, None
            if text == "(" and pending:
                self.call = [pending, 1, 0]
            elif self.call and text == "(":
                self.call[1] += 1
            elif self.call and text == ")":
                self.call[1] -= 1
                if self.call[1] == 0:
                    self.call = None
            elif self.call and self.call[1] == 1:
                self.call[2] += 1           # ',' between arguments
            return text
        self.reset()
        if kind == "directive":
            self.after_define = text.endswith("define")
            return text
        path = m.group("path")              # an #include <...>
        extra = "".join(f"#include <lkl/{equiv}>\n"
                        for equiv in LIBC_EQUIVALENTS.get(path, ()))
        if path.split("/", 1)[0] in self.topdirs:
            text = text.replace(f"<{path}>", f"<lkl/{path}>")
        return extra + text


_rewriter = None
_redirector = None


def init_rewriter(renames, topdirs, pasting):
    global _rewriter, _redirector
    _rewriter = Rewriter(renames, topdirs, pasting)
    _redirector = Rewriter({}, topdirs, {})


def write_if_changed(path, text):
    """Keep the timestamp of unchanged headers (incremental builds)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text)


def install_header(job):
    src, dst, rel = job
    with open(src, encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    if rel in VERBATIM:
        text = _redirector.rewrite(text)
    else:
        text = _rewriter.rewrite(text) + EXTRAS.get(rel, "")
    write_if_changed(dst, text)


# ---------------------------------------------------------------------------
# System call wrappers

NR_DEFINE_RE = re.compile(r"^\s*#\s*define\s+(__NR(?:3264)?_\w+)\s+(\w+)",
                          re.M)
# asm-generic/unistd.h: __SYSCALL(nr, entry), __SC_COMP(nr, entry, compat),
# __SC_3264(nr, entry32, entry64), __SC_COMP_3264(nr, e32, e64, compat)
TABLE_RE = re.compile(r"\b(__SYSCALL|__SC_COMP|__SC_3264|__SC_COMP_3264)"
                      r"\s*\(([^)]*)\)")

BUILTIN_TYPES = {"void", "char", "short", "int", "long", "signed",
                 "unsigned", "float", "double", "_Bool"}

# Kernel-internal types seen in SYSCALL_DEFINE, as uapi or C types.
KERNEL_TYPES = {
    "size_t": "__kernel_size_t", "ssize_t": "__kernel_ssize_t",
    "loff_t": "__kernel_loff_t", "off_t": "__kernel_off_t",
    "pid_t": "__kernel_pid_t", "uid_t": "__kernel_uid32_t",
    "gid_t": "__kernel_gid32_t", "qid_t": "__kernel_uid32_t",
    "old_uid_t": "__kernel_old_uid_t", "old_gid_t": "__kernel_old_gid_t",
    "mode_t": "__kernel_mode_t", "umode_t": "unsigned short",
    "dev_t": "__u32", "clockid_t": "__kernel_clockid_t",
    "timer_t": "__kernel_timer_t", "time_t": "__kernel_old_time_t",
    "key_t": "__kernel_key_t", "mqd_t": "__kernel_mqd_t",
    "fd_set": "__kernel_fd_set", "key_serial_t": "__s32",
    "aio_context_t": "__kernel_ulong_t", "rwf_t": "int", "bool": "int",
    "u8": "__u8", "u16": "__u16", "u32": "__u32", "u64": "__u64",
    "s8": "__s8", "s16": "__s16", "s32": "__s32", "s64": "__s64",
}

# Parameter names a C or C++ program cannot use as they are.
RESERVED_PARAMS = C_KEYWORDS | CXX_KEYWORDS | {
    "errno", "linux", "unix", "i386", "stdin", "stdout", "stderr",
    "lkl_params"}

UNISTD = ["asm/unistd_64.h", "asm/unistd.h", "asm-generic/unistd.h"]


def read_syscall_table(uapi):
    """System call names and the kernel entry point each one runs."""
    values, table = {}, {}
    for rel in UNISTD:
        path = os.path.join(uapi, rel)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            text = strip_comments(f.read())
        for key, value in NR_DEFINE_RE.findall(text):
            values.setdefault(key, set()).add(value)
        for macro, args in TABLE_RE.findall(text):
            args = [a.strip() for a in args.split(",")]
            entry = args[2] if macro.endswith("3264") else args[1]
            if entry.startswith("sys_"):
                table.setdefault(args[0], entry[len("sys_"):])

    entries = {}
    for key in values:
        if not key.startswith("__NR_"):
            continue
        # follow "#define __NR_fstat __NR3264_fstat" to the table entry
        todo, seen = [key], set()
        while todo and key not in entries:
            alias = todo.pop()
            seen.add(alias)
            if alias in table:
                entries[key] = table[alias]
            todo += [v for v in values.get(alias, ()) if v not in seen]
        entries.setdefault(key, key[len("__NR_"):])
    return {key[len("__NR_"):]: entry for key, entry in entries.items()}


def read_defs(path):
    """SYSCALL_DEFINE signatures: name -> [(type, arg), ...]."""
    defs = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split(None, 2)
            if not fields:
                continue
            if len(fields) < 2 or not fields[0].isdigit() or \
                    not fields[1].startswith("_"):
                sys.exit(f"{path}:{lineno}: cannot parse: {line.strip()}")
            nargs, name = int(fields[0]), fields[1][1:]
            items = [s.strip() for s in fields[2].split(",")] \
                if len(fields) > 2 else []
            if len(items) != 2 * nargs:
                sys.exit(f"{path}:{lineno}: expected {nargs} arguments")
            params = list(zip(items[0::2], items[1::2]))
            if name in defs and defs[name] != params:
                print(f"warning: {path}:{lineno}: second, different "
                      f"definition of {name} ignored", file=sys.stderr)
                continue
            defs[name] = params
    return defs


class TypeMapper:
    """Spells kernel parameter types with lkl uapi names."""

    def __init__(self, renames, typedef_homes):
        self.renames = renames
        self.typedef_homes = typedef_homes  # uapi typedef -> its headers
        self.structs = set()                # forward declarations needed
        self.typedefs = set()               # uapi typedefs used

    def _spell(self, words):
        """@words in lkl spelling, None if the uapi lacks one of them."""
        if not words:
            return None
        spelled = []
        for word in words:
            if word in BUILTIN_TYPES:
                spelled.append(word)
            elif word in self.renames:
                spelled.append(self.renames[word])
                if word in self.typedef_homes:
                    self.typedefs.add(word)
            else:
                return None
        return " ".join(spelled)

    def map(self, ctype):
        """C spelling of kernel type @ctype for a wrapper parameter."""
        toks = [t for t in re.findall(r"[A-Za-z_]\w*|\*", ctype)
                if t not in ("__user", "__force")]
        star = toks.index("*") if "*" in toks else len(toks)
        base, ptr = toks[:star], toks[star:]
        while ptr and ptr[-1] in ("const", "volatile"):
            ptr.pop()                       # top-level qualifier: drop
        quals = [t for t in base if t in ("const", "volatile")] if ptr else []
        words = [t for t in base if t not in ("const", "volatile")]

        if len(words) == 2 and words[0] in ("struct", "union") and ptr:
            tag = words[1] if PREFIXED_RE.match(words[1]) \
                else lkl_name(words[1])
            spelled = f"{words[0]} {tag}"
            self.structs.add(spelled)
        elif words and words[0] == "enum":
            spelled = None if ptr else "int"
        else:
            if len(words) == 1 and words[0] in KERNEL_TYPES:
                words = KERNEL_TYPES[words[0]].split()
            spelled = self._spell(words)
        if not spelled:
            if not ptr:
                return "long"               # unknown scalar
            spelled, ptr = "void", ["*"]    # unknown pointee
        stars = "".join("*" if t == "*" else f"{t} " for t in ptr)
        return " ".join(quals + [spelled] + ([stars] if stars else []))


def syscall_wrappers(uapi, defs, renames, typedef_homes):
    """lkl_sys_<name>() definitions by name, and the types they need."""
    mapper = TypeMapper(renames, typedef_homes)
    wrappers = {}
    for name, entry in sorted(read_syscall_table(uapi).items()):
        params = defs.get(entry)
        if params is None:
            continue
        protos, values = [], []
        for ctype, arg in params:
            if arg in RESERVED_PARAMS:
                arg += "_"
            ctype = mapper.map(ctype)
            sep = "" if ctype.endswith("*") else " "
            protos.append(f"{ctype}{sep}{arg}")
            values.append(f"(long){arg}")
        nr = "__lkl__NR_" + name
        protos = ", ".join(protos) or "void"
        values = ", ".join(values) or "0"
        wrappers[name] = (
            f"#ifdef {nr}\n"
            f"static inline long lkl_sys_{name}({protos})\n"
            "{\n"
            f"\tlong lkl_params[6] = {{ {values} }};\n"
            "\n"
            f"\treturn lkl_syscall({nr}, lkl_params);\n"
            "}\n"
            "#endif\n")
    return wrappers, mapper


def syscalls_header(wrappers, mapper, headers):
    """Text of lkl/asm/syscalls.h; @headers: the installed headers."""
    # one header for each typedef that <linux/types.h> does not provide
    basic = include_closure(headers, ["linux/types.h"])
    includes = set()
    for name in mapper.typedefs:
        homes = mapper.typedef_homes[name]
        if basic.isdisjoint(homes):
            home = min(homes)
            # the arch header that wraps an asm-generic one, if there is one
            arch = home.replace("asm-generic/", "asm/", 1)
            includes.add(arch if arch in headers else home)
    out = ["/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */",
           "/* Generated by arch/lkl/scripts/headers_install.py: "
           "do not edit. */",
           "#ifndef __LKL_ASM_SYSCALLS_H",
           "#define __LKL_ASM_SYSCALLS_H",
           "",
           "#ifdef __cplusplus",
           'extern "C" {',
           "#endif",
           "#include <lkl/asm/host_ops.h>",
           "#ifdef __cplusplus",
           "}",
           "#endif",
           "#include <lkl/asm/unistd.h>",
           "#include <lkl/linux/types.h>"]
    out += [f"#include <lkl/{rel}>" for rel in sorted(includes)]
    out.append("")
    out += [f"{decl};" for decl in sorted(mapper.structs)]
    out.append("")
    out += [wrappers[name] for name in sorted(wrappers)]
    out.append("#endif /* __LKL_ASM_SYSCALLS_H */")
    return "\n".join(out) + "\n"


def include_closure(headers, roots):
    """@roots and every installed header they include, transitively."""
    seen, todo = set(), list(roots)
    while todo:
        rel = todo.pop()
        if rel in seen or rel not in headers:
            continue
        seen.add(rel)
        todo += headers[rel].includes
    return seen


# ---------------------------------------------------------------------------

def list_headers(uapi):
    headers = []
    for dirpath, dirnames, filenames in os.walk(uapi):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.endswith(".h"):
                path = os.path.join(dirpath, fn)
                headers.append(os.path.relpath(path, uapi))
    return headers


def run(func, items, jobs, init=None, initargs=()):
    """[func(item) for item in items], in @jobs processes."""
    if jobs <= 1:
        if init:
            init(*initargs)
        return [func(item) for item in items]
    with concurrent.futures.ProcessPoolExecutor(
            jobs, initializer=init, initargs=initargs) as pool:
        return list(pool.map(func, items, chunksize=16))


def main():
    parser = argparse.ArgumentParser(
        description="Install the LKL uapi headers with lkl_ prefixed names.")
    parser.add_argument("--uapi", required=True, metavar="DIR",
                        help="include directory made by headers_install")
    parser.add_argument("--defs", required=True, metavar="SYSCALL_DEFS",
                        help="syscall_defs.txt made by the kernel build")
    parser.add_argument("--out", required=True, metavar="OUTDIR",
                        help="the headers go to OUTDIR/lkl/")
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="worker processes (default: 1)")
    args = parser.parse_args()

    rels = [h for h in list_headers(args.uapi) if h != GENERATED]
    if not rels:
        sys.exit(f"{args.uapi}: no headers found")
    defs = read_defs(args.defs)
    topdirs = frozenset(h.split("/", 1)[0] for h in rels if "/" in h)
    scanned = [h for h in rels if h not in VERBATIM]

    paths = [os.path.join(args.uapi, h) for h in scanned]
    headers = dict(zip(scanned, run(scan_header, paths, args.jobs)))

    defined, tested, heads = set(), set(), set()
    pasting = collections.defaultdict(frozenset)
    typedef_homes = collections.defaultdict(set)
    for rel, info in headers.items():
        defined |= info.defined
        tested |= info.tested
        heads |= info.heads
        for name, pasted in info.pasting.items():
            pasting[name] |= pasted
        for name in info.typedefs:
            if not never_renamed(name):
                typedef_homes[name].add(rel)
    renames = build_renames(defined, tested, heads)

    jobs = [(os.path.join(args.uapi, h), os.path.join(args.out, "lkl", h), h)
            for h in rels]
    run(install_header, jobs, args.jobs, init_rewriter,
        (renames, topdirs, dict(pasting)))

    wrappers, mapper = syscall_wrappers(args.uapi, defs, renames,
                                        typedef_homes)
    write_if_changed(os.path.join(args.out, "lkl", GENERATED),
                     syscalls_header(wrappers, mapper, headers))


if __name__ == "__main__":
    main()
