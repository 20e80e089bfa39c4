#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Packaging checks of a built LKL: what liblkl.so exports, that no text
# relocation reaches a program (liblkl.a and liblkl.so linked into a PIE with
# -z text, an ifunc and libatomic: lkl_pie.c), and, with the project checkout
# at hand (LKL_ROOT, as `make test` sets it), `make install` / `make uninstall`
# with an out-of-tree example built through pkg-config.
#
# Text relocations: the authoritative check is the link. -z text makes ld
# fail on any dynamic relocation against a read-only segment (liblkl.so is
# linked with it too), and readelf -d must show no TEXTREL. The scan of the
# archive's objects (x86_64) is an early warning that names the object,
# section and relocation type: in a section that is allocated and not
# writable, only PC-relative, GOT- and PLT-relative and TLS relocations of PIC
# code are allowed; anything else (R_X86_64_64, _32, _32S, TPOFF32...) needs
# a run-time fixup of read-only memory, or cannot be linked into a PIE or a
# shared object at all.
#
# Needs LKL_BUILD_DIR (absolute path of build/lkl); SKIP without it.

DIR=$(dirname "$(readlink -f "$0")")
if [ -r "$DIR/../kselftest/ktap_helpers.sh" ]; then
	# shellcheck source=../kselftest/ktap_helpers.sh
	. "$DIR/../kselftest/ktap_helpers.sh"
else
	echo "ktap_helpers.sh not found next to $DIR" >&2
	exit 1
fi

ktap_print_header

if [ -z "$LKL_BUILD_DIR" ] || [ ! -d "$LKL_BUILD_DIR" ]; then
	ktap_skip_all "LKL_BUILD_DIR is not set to the build/lkl directory"
	exit "$KSFT_SKIP"
fi

INC=$LKL_BUILD_DIR/include
LIBDIR=$LKL_BUILD_DIR/lib
LIB_A=$LIBDIR/liblkl.a
LIB_SO=$LIBDIR/liblkl.so
CC=${CC:-cc}
CXX=${CXX:-c++}
# Link flags the library asks for beyond -llkl (the sanitizer runtime of an
# LKL_SANITIZE=ON build).
LKL_LDFLAGS=
if [ -r "$LIBDIR/pkgconfig/lkl.pc" ] && command -v pkg-config >/dev/null; then
	LKL_LDFLAGS=$(PKG_CONFIG_PATH="$LIBDIR/pkgconfig" pkg-config --libs-only-other lkl)
fi
PIE_FLAGS=(-std=gnu11 -O2 -Wall -Wextra -Werror -fPIE -pie "-Wl,-z,text")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ktap_set_plan 12

# Prints the end of a command's saved output (where the reason is) as TAP
# diagnostics; $2 lines, 30 by default.
show() {
	tail -n "${2:-30}" "$1" | sed -e 's/^/# /'
}

# Runs "$@" as one subtest: status 0 passes, $KSFT_SKIP skips (the function
# says why), anything else fails.
subtest() {
	local desc=$1 rc=0
	shift
	"$@" || rc=$?
	case $rc in
	0) ktap_test_pass "$desc" ;;
	"$KSFT_SKIP") ktap_test_skip "$desc" ;;
	*) ktap_test_fail "$desc" ;;
	esac
}

# Fails when readelf -d of $1 shows a text relocation.
no_textrel() {
	if readelf -dW "$1" | grep -Eq '\(TEXTREL\)|\(FLAGS\).*TEXTREL'; then
		echo "# $1 has text relocations:"
		readelf -dW "$1" | grep TEXTREL | sed -e 's/^/# /'
		return 1
	fi
}

# 1: liblkl.so exports exactly the API of the public headers.
so_exports() {
	[ -f "$LIB_SO" ] || { echo "# $LIB_SO missing"; return 1; }
	nm -D --defined-only "$LIB_SO" | awk '{ sub(/@.*/, "", $NF); print $NF }' |
		sort -u >"$TMP/exported"
	echo "# liblkl.so exports $(wc -l <"$TMP/exported") symbols"
	if grep -v '^lkl_' "$TMP/exported" >"$TMP/foreign"; then
		echo "# exported symbols outside the lkl_* API:"
		head -n 20 "$TMP/foreign" | sed -e 's/^/#   /'
		return 1
	fi
	# Each exported symbol is declared by <lkl.h> or <lkl_host.h>...
	{
		printf '#include <lkl.h>\n#include <lkl_host.h>\n\nvoid *exported[] = {\n'
		sed -e 's/.*/\t(void *)\&&,/' "$TMP/exported"
		printf '};\n'
	} >"$TMP/exported.c"
	if ! $CC -std=gnu11 -Wall -Werror -I"$INC" -c "$TMP/exported.c" \
			-o "$TMP/exported.o" >"$TMP/exported.out" 2>&1; then
		echo "# exported but not declared by the public headers:"
		show "$TMP/exported.out" 20
		return 1
	fi
	# ... and each function they declare (not inline) is exported.
	printf '#include <lkl.h>\n#include <lkl_host.h>\n' >"$TMP/decl.c"
	if ! gcc -I"$INC" -aux-info "$TMP/decl.aux" -c "$TMP/decl.c" \
			-o "$TMP/decl.o" >"$TMP/decl.out" 2>&1; then
		show "$TMP/decl.out"
		return 1
	fi
	{
		sed -n -e "s|^/\* $INC/[^*]*:NC \*/ [^(]*[ *]\(lkl_[A-Za-z0-9_]*\) (.*|\1|p" \
			"$TMP/decl.aux"
		echo lkl_host_ops
	} | sort -u >"$TMP/declared"
	if [ "$(wc -l <"$TMP/declared")" -lt 10 ]; then
		echo "# found only $(wc -l <"$TMP/declared") declarations in the headers"
		return 1
	fi
	if comm -23 "$TMP/declared" "$TMP/exported" | grep . >"$TMP/missing"; then
		echo "# declared by the public headers but not exported:"
		sed -e 's/^/#   /' "$TMP/missing"
		return 1
	fi
}
subtest "liblkl.so exports the public API and nothing else" so_exports

# 2: soname and its links, no text relocations, no C++ runtime, no
# executable stack.
so_dynamic() {
	local soname real
	[ -f "$LIB_SO" ] || { echo "# $LIB_SO missing"; return 1; }
	readelf -dW "$LIB_SO" >"$TMP/so.dyn"
	soname=$(sed -n -e 's/.*Library soname: \[\(.*\)\]$/\1/p' "$TMP/so.dyn")
	real=$(basename "$(readlink -f "$LIB_SO")")
	echo "# liblkl.so -> $(readlink "$LIB_SO"), soname $soname, file $real"
	if ! [[ $soname =~ ^liblkl\.so\.[0-9]+$ ]] ||
			[ "$(readlink "$LIB_SO")" != "$soname" ] ||
			! [[ $real =~ ^$soname\.[0-9]+\.[0-9]+$ ]]; then
		echo "# expected liblkl.so -> liblkl.so.N -> liblkl.so.N.M.P, soname liblkl.so.N"
		return 1
	fi
	no_textrel "$LIB_SO" || return 1
	if grep -E 'NEEDED.*libstdc\+\+' "$TMP/so.dyn"; then
		echo "# liblkl.so needs the C++ runtime"
		return 1
	fi
	if readelf -lW "$LIB_SO" | grep -E 'GNU_STACK' | grep -q 'E '; then
		echo "# liblkl.so asks for an executable stack"
		return 1
	fi
}
subtest "liblkl.so: soname and links, no TEXTREL, no C++ runtime, no exec stack" so_dynamic

# 3: relocations of liblkl.a's objects (lkl.o and the glue) in read-only
# sections are those of position-independent code.
archive_relocs() {
	local machine
	[ -f "$LIB_A" ] || { echo "# $LIB_A missing"; return 1; }
	machine=$(readelf -hW "$LIB_A" | sed -n -e 's/^ *Machine: *//p' | sort -u)
	if [ "$machine" != "Advanced Micro Devices X86-64" ]; then
		echo "# no list of PIC relocation types for '$machine': the -z text links are the check"
		return "$KSFT_SKIP"
	fi
	readelf -SrW "$LIB_A" >"$TMP/relocs" || return 1
	awk '
	BEGIN {
		pic = "^R_X86_64_(NONE|PC8|PC16|PC32|PC64|PLT32|GOTPCREL|GOTPCRELX|" \
			"REX_GOTPCRELX|GOTPC32|GOTPC64|GOTPCREL64|GOTOFF64|PLTOFF64|" \
			"TLSGD|TLSLD|DTPOFF32|DTPOFF64|GOTTPOFF|GOTPC32_TLSDESC|TLSDESC_CALL)$"
	}
	/^File: / { obj = $2; delete ro; next }
	# Section headers: [Nr] Name Type Address Off Size ES [Flg] Lk Inf Al
	/^ *\[ *[0-9]+\] / {
		line = $0
		sub(/^ *\[ *[0-9]+\] +/, "", line)
		n = split(line, f, / +/)
		flags = n >= 10 ? f[7] : ""
		if (flags ~ /A/ && flags !~ /W/)
			ro[f[1]] = 1
		next
	}
	/^Relocation section / {
		sec = $3
		gsub(/\047/, "", sec)
		sub(/^\.rela?/, "", sec)
		next
	}
	/^[0-9a-f]+ +[0-9a-f]+ +R_X86_64_/ {
		if (!(sec in ro))
			next
		if ($3 ~ pic)
			next
		bad++
		if (bad <= 20)
			printf "#   %s %s: %s against %s\n", obj, sec, $3, $5
	}
	END {
		if (bad) {
			printf "# %d relocation(s) that need a fix-up of read-only memory\n", bad
			exit 1
		}
	}' "$TMP/relocs"
}
subtest "liblkl.a: only PIC relocations in read-only sections" archive_relocs

# Builds lkl_pie.c as $1 with the rest of the arguments, checks that it has
# no TEXTREL and runs it; its output is in $TMP/$1.out.
pie_build_run() {
	local name=$1 rc
	shift
	# shellcheck disable=SC2086 # LKL_LDFLAGS is a list of flags
	if ! $CC "${PIE_FLAGS[@]}" -I"$INC" "$DIR/lkl_pie.c" -o "$TMP/$name" \
			"$@" -lpthread -latomic $LKL_LDFLAGS >"$TMP/$name.build" 2>&1; then
		show "$TMP/$name.build"
		return 1
	fi
	no_textrel "$TMP/$name" || return 1
	if ! nm -u "$TMP/$name" | grep -q '__atomic_load_16'; then
		echo "# note: the compiler inlined the 16-byte load (libatomic not exercised)"
	fi
	timeout 120 "$TMP/$name" >"$TMP/$name.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] || ! grep -Eq '^pid [1-9][0-9]* release 6\.12\.' "$TMP/$name.out" ||
			[ "$(tail -n 1 "$TMP/$name.out")" != "done" ]; then
		echo "# $name exited with $rc"
		show "$TMP/$name.out"
		return 1
	fi
}

# 4: static archive.
pie_static() {
	[ -f "$LIB_A" ] || { echo "# $LIB_A missing"; return 1; }
	pie_build_run pie-static "$LIB_A"
}
subtest "PIE (-z text, ifunc, libatomic) with liblkl.a links and runs" pie_static

# 5: shared library.
pie_shared() {
	[ -f "$LIB_SO" ] || { echo "# $LIB_SO missing"; return 1; }
	pie_build_run pie-shared -L"$LIBDIR" -llkl -Wl,-rpath,"$LIBDIR" || return 1
	if ! readelf -dW "$TMP/pie-shared" | grep -q 'NEEDED.*\[liblkl\.so\.[0-9]*\]'; then
		echo "# the program does not load liblkl.so"
		return 1
	fi
}
subtest "PIE (-z text, ifunc, libatomic) with liblkl.so links and runs" pie_shared

# 6: C++ with the RAII layer, against liblkl.so.
cxx_shared() {
	cat >"$TMP/kernel.cc" <<-'EOF'
	#include <cstdio>
	#include <lkl/kernel.hpp>

	int main()
	{
		try {
			lkl::Kernel kernel("mem=32M loglevel=4");
			std::printf("pid %ld\n", lkl::check(lkl_sys_getpid(), "getpid"));
		} catch (const lkl::Error &e) {
			std::fprintf(stderr, "%s\n", e.what());
			return 1;
		}
		return 0;
	}
	EOF
	# shellcheck disable=SC2086 # LKL_LDFLAGS is a list of flags
	if ! $CXX -std=c++20 -Wall -Wextra -Werror -I"$INC" "$TMP/kernel.cc" \
			-o "$TMP/kernel" -L"$LIBDIR" -llkl -Wl,-rpath,"$LIBDIR" \
			$LKL_LDFLAGS >"$TMP/kernel.build" 2>&1; then
		show "$TMP/kernel.build"
		return 1
	fi
	if ! timeout 120 "$TMP/kernel" >"$TMP/kernel.out" 2>&1 ||
			! grep -Eq '^pid [1-9]' "$TMP/kernel.out"; then
		show "$TMP/kernel.out"
		return 1
	fi
}
subtest "C++20 program with <lkl/kernel.hpp> links liblkl.so and runs" cxx_shared

# 7: the PIE program prints its thread's kernel stack (/proc/thread-self/stack):
# every frame must carry a symbol name (function+0xoff/0xsize), and the trace
# is taken inside read(), so vfs_read is one of them.
stack_trace() {
	local out=$TMP/pie-static.out frames
	[ -s "$out" ] || { echo "# no output of the PIE program (test 4)"; return 1; }
	if ! grep -q '^stack dump:$' "$out"; then
		echo "# no stack dump:"
		grep '^stack dump' "$out" | sed -e 's/^/# /'
		return 1
	fi
	frames=$(sed -n '/^stack dump:$/,/^done$/p' "$out" | grep -c '^\[<')
	if [ "$frames" -lt 3 ] ||
		sed -n '/^stack dump:$/,/^done$/p' "$out" | grep '^\[<' |
		grep -Evq '^\[<[0-9a-f]+>\] [A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+$' ||
		! grep -Eq '\] vfs_read\+0x' "$out"; then
		echo "# the stack dump is not a symbolised trace of read():"
		show "$out" 40
		return 1
	fi
}
subtest "symbolised kernel stack trace of the PIE program" stack_trace

# 8-12: make install / uninstall of the project checkout, which must be the
# one that built LKL_BUILD_DIR. Runs the top-level make (its install target
# first brings the build up to date, a no-op here).
INSTALL_SKIP=
if [ -z "$LKL_ROOT" ] || [ ! -f "$LKL_ROOT/Makefile" ] || [ -z "$LKL_BUILD" ]; then
	INSTALL_SKIP="no project checkout (LKL_ROOT, LKL_BUILD: make test sets them)"
elif [ "${LKL_SANITIZE:-0}" = 1 ]; then
	INSTALL_SKIP="this run tests the SANITIZE=1 build, which make install refuses"
elif [ "$(readlink -f "$LKL_BUILD/lkl")" != "$(readlink -f "$LKL_BUILD_DIR")" ]; then
	INSTALL_SKIP="make install installs $LKL_BUILD/lkl, not $LKL_BUILD_DIR"
elif ! command -v pkg-config >/dev/null; then
	INSTALL_SKIP="pkg-config is not installed"
fi

# make without what kselftest's make hands down to its children.
plain_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u PREFIX -u DESTDIR make "$@"
}

top_make() {
	plain_make -C "$LKL_ROOT" BUILD="$LKL_BUILD" "$@"
}

install_ready() {
	if [ -n "$INSTALL_SKIP" ]; then
		echo "# $INSTALL_SKIP"
		return "$KSFT_SKIP"
	fi
}

P=$TMP/prefix

installed_pc() {
	PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config "$@" lkl
}

# 8: an instrumented build is not installable; nothing is built or written.
install_sanitize() {
	if [ -z "$LKL_ROOT" ] || [ ! -f "$LKL_ROOT/Makefile" ]; then
		echo "# no project checkout (LKL_ROOT: make test sets it)"
		return "$KSFT_SKIP"
	fi
	if top_make install SANITIZE=1 PREFIX="$TMP/refused" >"$TMP/refused.out" 2>&1; then
		echo "# make install SANITIZE=1 succeeded"
		return 1
	fi
	if ! grep -q 'SANITIZE=1' "$TMP/refused.out" || [ -e "$TMP/refused" ]; then
		show "$TMP/refused.out"
		return 1
	fi
}
subtest "make install SANITIZE=1 refuses" install_sanitize

# 9: install into a prefix that already holds a file of someone else's.
install_prefix() {
	local f
	install_ready || return
	mkdir -p "$P/lib" && echo other >"$P/lib/other.txt"
	if ! top_make install PREFIX="$P" >"$TMP/install.out" 2>&1; then
		show "$TMP/install.out"
		return 1
	fi
	grep "^install: " "$TMP/install.out" | sed -e 's/^/# /'
	for f in lib/liblkl.a lib/liblkl.so lib/pkgconfig/lkl.pc include/lkl.h \
			include/lkl_host.h include/lkl/asm/host_ops.h share/lkl/install_manifest.txt; do
		[ -e "$P/$f" ] || { echo "# $P/$f missing"; return 1; }
	done
	if ! diff -r "$INC" "$P/include" >"$TMP/diff.out" 2>&1; then
		echo "# the installed headers differ from $INC"
		show "$TMP/diff.out" 10
		return 1
	fi
	if ! cmp -s "$LIB_A" "$P/lib/liblkl.a" || ! cmp -s "$LIB_SO" "$P/lib/liblkl.so"; then
		echo "# the installed libraries differ from those in $LIBDIR"
		return 1
	fi
	if [ "$(installed_pc --variable=prefix)" != "$P" ] ||
			[ "$(installed_pc --cflags | xargs)" != "-I$P/include" ] ||
			! installed_pc --libs | grep -q -- "-L$P/lib -llkl -lpthread"; then
		echo "# lkl.pc: $(installed_pc --cflags --libs)"
		return 1
	fi
}
subtest "make install PREFIX: libraries, headers as built, lkl.pc for the prefix" install_prefix

# 10: the example project, with pkg-config only: liblkl.so and static.
example() {
	local ex=$TMP/hello
	install_ready || return
	mkdir -p "$ex" &&
		cp "$LKL_ROOT"/tools/lkl/examples/hello/{Makefile,hello.c} "$ex/" || return 1
	if ! plain_make -C "$ex" PKG_CONFIG_PATH="$P/lib/pkgconfig" all static \
			>"$TMP/example.out" 2>&1; then
		show "$TMP/example.out"
		return 1
	fi
	if ! readelf -dW "$ex/hello" | grep -q 'NEEDED.*\[liblkl\.so\.[0-9]*\]' ||
			readelf -dW "$ex/hello-static" | grep -q NEEDED; then
		echo "# hello should load liblkl.so, hello-static nothing"
		return 1
	fi
	if ! LD_LIBRARY_PATH=$P/lib timeout 120 "$ex/hello" >"$TMP/hello.out" 2>&1 ||
			! grep -q '^hello from Linux 6\.12\.' "$TMP/hello.out" ||
			! timeout 120 "$ex/hello-static" >"$TMP/hello-static.out" 2>&1 ||
			! grep -q '^hello from Linux 6\.12\.' "$TMP/hello-static.out"; then
		show "$TMP/hello.out" 10
		show "$TMP/hello-static.out" 10
		return 1
	fi
}
subtest "examples/hello builds with pkg-config (shared and static) and runs" example

# 11: uninstall removes what install put there, and only that.
uninstall_prefix() {
	install_ready || return
	if ! top_make uninstall PREFIX="$P" >"$TMP/uninstall.out" 2>&1; then
		show "$TMP/uninstall.out"
		return 1
	fi
	(cd "$P" && find . -mindepth 1 | sort) >"$TMP/left"
	if [ "$(cat "$TMP/left")" != "$(printf './lib\n./lib/other.txt')" ]; then
		echo "# left in the prefix (expected ./lib/other.txt only):"
		head -n 20 "$TMP/left" | sed -e 's/^/#   /'
		return 1
	fi
}
subtest "make uninstall PREFIX removes exactly what install added" uninstall_prefix

# 12: DESTDIR: files under DESTDIR, paths (lkl.pc, manifest) for PREFIX.
destdir() {
	local stage=$TMP/stage prefix=/opt/lkl-selftest-$$
	install_ready || return
	mkdir -p "$stage"
	if ! top_make install PREFIX="$prefix" DESTDIR="$stage" >"$TMP/destdir.out" 2>&1; then
		show "$TMP/destdir.out"
		return 1
	fi
	if [ -e "$prefix" ] || [ ! -f "$stage$prefix/lib/liblkl.so" ] ||
			! grep -qx "prefix=$prefix" "$stage$prefix/lib/pkgconfig/lkl.pc" ||
			grep -v '^#' "$stage$prefix/share/lkl/install_manifest.txt" |
			grep -v "^$prefix/" | grep -q .; then
		echo "# expected files in $stage$prefix, with lkl.pc and the manifest for $prefix"
		return 1
	fi
	if ! top_make uninstall PREFIX="$prefix" DESTDIR="$stage" >>"$TMP/destdir.out" 2>&1; then
		show "$TMP/destdir.out"
		return 1
	fi
	if [ -e "$stage$prefix" ]; then
		echo "# $stage$prefix is still there"
		return 1
	fi
}
subtest "make install/uninstall with DESTDIR" destdir

ktap_finished
