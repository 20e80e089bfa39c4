// SPDX-License-Identifier: GPL-2.0
//
// Syscalls through the C API on one kernel booted for the whole binary:
// process identity, files on tmpfs, pipes/eventfd/epoll, time, proc and
// sysfs, many host threads at once, and error returns.
#include "test_util.hpp"

#include <lkl/linux/magic.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <latch>
#include <map>
#include <set>
#include <vector>

namespace {

using namespace lkl_test;

[[maybe_unused]] const auto *const kEnv =
    ::testing::AddGlobalTestEnvironment(new KernelEnvironment("mem=64M loglevel=4"));

// d_type values of getdents64 (the Linux ABI, the same as glibc's DT_*).
constexpr unsigned char kDtDir = 4;
constexpr unsigned char kDtReg = 8;

// Mounts tmpfs at /tmp once per process; every test may call it.
long EnsureTmpfs() {
  static const long ret = MkdirMount("tmpfs", "/tmp", "tmpfs", "size=32m");
  return ret;
}

long EnsureProcAndSys() {
  static const long ret = [] {
    long r = MkdirMount("proc", "/proc", "proc");
    return r < 0 ? r : MkdirMount("sysfs", "/sys", "sysfs");
  }();
  return ret;
}

unsigned int U(long fd) { return static_cast<unsigned int>(fd); }

// ---------------------------------------------------------------- process

TEST(ProcessTest, GetpidIsPositiveAndStable) {
  long pid = lkl_sys_getpid();
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 100; i++) ASSERT_EQ(lkl_sys_getpid(), pid) << "call " << i;
}

// All host threads are threads of one process in the library: one pid, one
// thread id each.
TEST(ProcessTest, HostThreadsShareGetpidButNotGettid) {
  constexpr int kThreads = 8;
  const long pid = lkl_sys_getpid();
  const long main_tid = lkl_sys_gettid();
  ASSERT_GT(pid, 0);
  ASSERT_GT(main_tid, 0);
  EXPECT_EQ(lkl_sys_gettid(), main_tid) << "gettid unstable";

  std::vector<long> pids(kThreads), tids(kThreads);
  std::latch all_alive(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; i++) {
    threads.emplace_back([&, i] {
      pids[i] = lkl_sys_getpid();
      tids[i] = lkl_sys_gettid();
      // Stay alive until all have their ids: ids of live
      // threads must be distinct.
      all_alive.arrive_and_wait();
    });
  }
  for (auto &t : threads) t.join();

  std::set<long> distinct{main_tid};
  for (int i = 0; i < kThreads; i++) {
    EXPECT_EQ(pids[i], pid) << "thread " << i;
    EXPECT_GT(tids[i], 0) << "thread " << i;
    distinct.insert(tids[i]);
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads + 1)) << "thread ids not distinct";
}

TEST(ProcessTest, DescriptorsAreSharedAcrossHostThreads) {
  int fds[2];
  ASSERT_LKL_OK(lkl_sys_pipe2(fds, 0));
  lkl::Fd rd(fds[0]), wr(fds[1]);

  long written = 0;
  std::thread t([&] {
    char msg[] = "from another thread";
    written = lkl_sys_write(U(wr.get()), msg, sizeof(msg));
  });
  t.join();
  ASSERT_EQ(written, 20);
  char buf[32] = {};
  ASSERT_EQ(lkl_sys_read(U(rd.get()), buf, sizeof(buf)), 20);
  EXPECT_STREQ(buf, "from another thread");
}

TEST(ProcessTest, UnameIsLinux612) {
  struct lkl_new_utsname uts;
  std::memset(&uts, 0, sizeof(uts));
  ASSERT_LKL_OK(lkl_sys_uname(&uts));
  EXPECT_STREQ(uts.sysname, "Linux");
  EXPECT_EQ(std::string_view(uts.release).substr(0, 5), "6.12.") << uts.release;
  EXPECT_GT(std::strlen(uts.version), 0U);
  EXPECT_GT(std::strlen(uts.machine), 0U);
}

// ---------------------------------------------------------------- files

// Without an MMU there is no full shmem (CONFIG_SHMEM depends on MMU):
// "tmpfs" is then ramfs underneath, which ignores size= and reports
// RAMFS_MAGIC. Either way a mount exists at /tmp and is not the rootfs.
TEST(FileTest, TmpfsIsMountedAtTmp) {
  ASSERT_LKL_OK(EnsureTmpfs());
  struct lkl_statfs sfs;
  std::memset(&sfs, 0, sizeof(sfs));
  ASSERT_LKL_OK(lkl_sys_statfs("/tmp", &sfs));
  const auto type = static_cast<unsigned long>(sfs.f_type);
  EXPECT_TRUE(type == LKL_TMPFS_MAGIC || type == LKL_RAMFS_MAGIC) << std::hex << type;
  if (type == LKL_TMPFS_MAGIC) {
    EXPECT_EQ(static_cast<unsigned long long>(sfs.f_blocks) * sfs.f_bsize, 32ULL << 20)
        << "size=32m not honoured";
  }

  // A file created under /tmp is not visible in the directory below it.
  long fd = lkl_sys_openat(LKL_AT_FDCWD, "/tmp/on_tmpfs", LKL_O_CREAT | LKL_O_WRONLY, 0600);
  ASSERT_LKL_OK(fd);
  lkl_sys_close(U(fd));
  ASSERT_LKL_OK(lkl_sys_umount2(const_cast<char *>("/tmp"), 0));
  EXPECT_LKL_ERR(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/on_tmpfs", LKL_O_RDONLY, 0), LKL_ENOENT);
  ASSERT_LKL_OK(MkdirMount("tmpfs", "/tmp", "tmpfs", "size=32m"));
  EXPECT_LKL_ERR(lkl_sys_openat(LKL_AT_FDCWD, "/tmp/on_tmpfs", LKL_O_RDONLY, 0), LKL_ENOENT)
      << "a fresh mount must be empty";
}

TEST(FileTest, WriteSeekReadFstat) {
  ASSERT_LKL_OK(EnsureTmpfs());
  const char *path = "/tmp/rw_file";
  long fd = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_CREAT | LKL_O_RDWR | LKL_O_TRUNC, 0640);
  ASSERT_LKL_OK(fd);
  lkl::Fd file(static_cast<int>(fd));

  std::vector<unsigned char> data(100000);
  ByteStream(7).Fill(data.data(), data.size());
  const long size = static_cast<long>(data.size());
  ASSERT_EQ(WriteAll(file.get(), data.data(), data.size()), size);

  EXPECT_EQ(lkl_sys_lseek(U(fd), 0, LKL_SEEK_CUR), size);
  EXPECT_EQ(lkl_sys_lseek(U(fd), 0, LKL_SEEK_END), size);

  struct lkl_stat st;
  std::memset(&st, 0, sizeof(st));
  ASSERT_LKL_OK(lkl_sys_fstat(U(fd), &st));
  EXPECT_EQ(static_cast<long>(st.st_size), size);
  EXPECT_EQ(st.st_mode & LKL_S_IFMT, static_cast<unsigned>(LKL_S_IFREG));
  EXPECT_EQ(st.st_mode & 0777, 0640U);
  EXPECT_EQ(st.st_nlink, 1U);

  ASSERT_EQ(lkl_sys_lseek(U(fd), 0, LKL_SEEK_SET), 0);
  std::vector<unsigned char> back(data.size());
  ASSERT_EQ(ReadFull(file.get(), back.data(), back.size()), size);
  EXPECT_TRUE(back == data) << "content read back differs";
  char c;
  EXPECT_EQ(lkl_sys_read(U(fd), &c, 1), 0) << "no EOF at end of file";

  ASSERT_EQ(lkl_sys_lseek(U(fd), 5000, LKL_SEEK_SET), 5000);
  unsigned char mid[100];
  ASSERT_EQ(lkl_sys_read(U(fd), reinterpret_cast<char *>(mid), sizeof(mid)), 100);
  EXPECT_EQ(std::memcmp(mid, data.data() + 5000, sizeof(mid)), 0);
  EXPECT_LKL_ERR(lkl_sys_lseek(U(fd), -1, LKL_SEEK_SET), LKL_EINVAL);

  // A hole past the end reads back as zeros.
  const long hole_end = 1 << 20;
  ASSERT_EQ(lkl_sys_lseek(U(fd), hole_end, LKL_SEEK_SET), hole_end);
  char one = 'z';
  ASSERT_EQ(lkl_sys_write(U(fd), &one, 1), 1);
  ASSERT_LKL_OK(lkl_sys_fstat(U(fd), &st));
  EXPECT_EQ(static_cast<long>(st.st_size), hole_end + 1);
  ASSERT_EQ(lkl_sys_lseek(U(fd), size, LKL_SEEK_SET), size);
  std::vector<char> zeros(4096, 'x');
  ASSERT_EQ(lkl_sys_read(U(fd), zeros.data(), zeros.size()), 4096);
  EXPECT_TRUE(std::all_of(zeros.begin(), zeros.end(), [](char z) { return z == 0; }));

  // A second, read-only descriptor sees the same data and cannot write.
  long ro = lkl_sys_openat(LKL_AT_FDCWD, path, LKL_O_RDONLY, 0);
  ASSERT_LKL_OK(ro);
  lkl::Fd rofile(static_cast<int>(ro));
  std::vector<unsigned char> again(data.size());
  ASSERT_EQ(ReadFull(rofile.get(), again.data(), again.size()), size);
  EXPECT_TRUE(again == data);
  EXPECT_LKL_ERR(lkl_sys_write(U(ro), &one, 1), LKL_EBADF);

  EXPECT_LKL_OK(lkl_sys_unlinkat(LKL_AT_FDCWD, path, 0));
}

// Lists a directory with getdents64 through a small buffer (several calls),
// checking every record's framing.
void ListDir(int dirfd, std::map<std::string, unsigned char> *entries) {
  alignas(8) char buf[512];
  const size_t name_off = offsetof(struct lkl_linux_dirent64, d_name);

  for (int call = 0; call < 1000; call++) {
    long n = lkl_sys_getdents64(U(dirfd), reinterpret_cast<struct lkl_linux_dirent64 *>(buf),
                                sizeof(buf));
    ASSERT_LKL_OK(n);
    if (n == 0) return;
    ASSERT_LE(n, static_cast<long>(sizeof(buf)));
    for (long off = 0; off < n;) {
      auto *d = reinterpret_cast<struct lkl_linux_dirent64 *>(buf + off);
      ASSERT_GT(d->d_reclen, name_off) << "at " << off;
      ASSERT_EQ(d->d_reclen % 8, 0) << "at " << off;
      ASSERT_LE(off + d->d_reclen, n) << "at " << off;
      size_t max = d->d_reclen - name_off;
      size_t len = strnlen(d->d_name, max);
      ASSERT_LT(len, max) << "name not terminated";
      std::string name(d->d_name, len);
      ASSERT_EQ(entries->count(name), 0U) << "twice: " << name;
      (*entries)[name] = d->d_type;
      off += d->d_reclen;
    }
  }
  FAIL() << "getdents64 never reached the end";
}

std::string Name(char prefix, int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%c%02d", prefix, i);
  return buf;
}

TEST(FileTest, DirectoryOperationsAndGetdents) {
  ASSERT_LKL_OK(EnsureTmpfs());
  ASSERT_LKL_OK(lkl_sys_mkdirat(LKL_AT_FDCWD, "/tmp/dir_test", 0755));
  EXPECT_LKL_ERR(lkl_sys_mkdirat(LKL_AT_FDCWD, "/tmp/dir_test", 0755), LKL_EEXIST);
  long dfd = lkl_sys_openat(LKL_AT_FDCWD, "/tmp/dir_test", LKL_O_RDONLY | LKL_O_DIRECTORY, 0);
  ASSERT_LKL_OK(dfd);
  lkl::Fd dir(static_cast<int>(dfd));

  // 40 files named f00..f39, each containing its own name.
  for (int i = 0; i < 40; i++) {
    std::string n = Name('f', i);
    long fd = lkl_sys_openat(static_cast<int>(dfd), n.c_str(),
                             LKL_O_CREAT | LKL_O_EXCL | LKL_O_WRONLY, 0644);
    ASSERT_LKL_OK(fd) << n;
    lkl::Fd f(static_cast<int>(fd));
    ASSERT_EQ(WriteAll(f.get(), n.data(), n.size()), 3);
  }
  EXPECT_LKL_ERR(
      lkl_sys_openat(static_cast<int>(dfd), "f00", LKL_O_CREAT | LKL_O_EXCL | LKL_O_WRONLY, 0644),
      LKL_EEXIST);

  for (int i = 0; i < 10; i++) {
    ASSERT_LKL_OK(lkl_sys_renameat2(static_cast<int>(dfd), Name('f', i).c_str(),
                                    static_cast<int>(dfd), Name('r', i).c_str(), 0));
  }
  for (int i = 10; i < 20; i++) {
    ASSERT_LKL_OK(lkl_sys_unlinkat(static_cast<int>(dfd), Name('f', i).c_str(), 0));
  }
  ASSERT_LKL_OK(lkl_sys_mkdirat(static_cast<int>(dfd), "sub", 0700));

  std::map<std::string, unsigned char> entries;
  ASSERT_NO_FATAL_FAILURE(ListDir(dir.get(), &entries));

  std::set<std::string> expected{".", "..", "sub"};
  for (int i = 0; i < 10; i++) expected.insert(Name('r', i));
  for (int i = 20; i < 40; i++) expected.insert(Name('f', i));
  std::set<std::string> got;
  for (const auto &e : entries) got.insert(e.first);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(entries["."], kDtDir);
  EXPECT_EQ(entries["sub"], kDtDir);
  EXPECT_EQ(entries["r03"], kDtReg);
  EXPECT_EQ(entries["f25"], kDtReg);

  // A renamed file keeps its content; removed names are gone.
  long fd = lkl_sys_openat(static_cast<int>(dfd), "r03", LKL_O_RDONLY, 0);
  ASSERT_LKL_OK(fd);
  {
    lkl::Fd f(static_cast<int>(fd));
    char buf[8] = {};
    EXPECT_EQ(lkl_sys_read(U(fd), buf, sizeof(buf)), 3);
    EXPECT_STREQ(buf, "f03");
  }
  EXPECT_LKL_ERR(lkl_sys_openat(static_cast<int>(dfd), "f03", LKL_O_RDONLY, 0), LKL_ENOENT);
  EXPECT_LKL_ERR(lkl_sys_openat(static_cast<int>(dfd), "f15", LKL_O_RDONLY, 0), LKL_ENOENT);
  EXPECT_LKL_ERR(lkl_sys_unlinkat(LKL_AT_FDCWD, "/tmp/dir_test", LKL_AT_REMOVEDIR), LKL_ENOTEMPTY);
  EXPECT_LKL_ERR(lkl_sys_openat(static_cast<int>(dfd), "r03/x", LKL_O_RDONLY, 0), LKL_ENOTDIR);

  struct lkl_stat st;
  ASSERT_LKL_OK(lkl_sys_fstat(U(dfd), &st));
  EXPECT_EQ(st.st_mode & LKL_S_IFMT, static_cast<unsigned>(LKL_S_IFDIR));

  // Empty it and remove it.
  for (const auto &name : expected) {
    if (name == "." || name == "..") continue;
    int flags = name == "sub" ? LKL_AT_REMOVEDIR : 0;
    EXPECT_LKL_OK(lkl_sys_unlinkat(static_cast<int>(dfd), name.c_str(), flags)) << name;
  }
  EXPECT_LKL_OK(lkl_sys_unlinkat(LKL_AT_FDCWD, "/tmp/dir_test", LKL_AT_REMOVEDIR));
}

// ---------------------------------------------------------------- pipes, events

TEST(EventTest, PipeTransfersDataAndSignalsEof) {
  int fds[2] = {-1, -1};
  ASSERT_LKL_OK(lkl_sys_pipe2(fds, LKL_O_CLOEXEC));
  EXPECT_GE(fds[0], 0);
  EXPECT_GE(fds[1], 0);
  EXPECT_NE(fds[0], fds[1]);
  lkl::Fd rd(fds[0]), wr(fds[1]);

  char msg[] = "hello, pipe";
  ASSERT_EQ(lkl_sys_write(U(fds[1]), msg, 11), 11);
  char buf[64] = {};
  ASSERT_EQ(lkl_sys_read(U(fds[0]), buf, sizeof(buf)), 11);
  EXPECT_STREQ(buf, "hello, pipe");

  EXPECT_LKL_ERR(lkl_sys_write(U(fds[0]), msg, 1), LKL_EBADF);
  ASSERT_LKL_OK(lkl_sys_close(U(wr.release())));
  EXPECT_EQ(lkl_sys_read(U(fds[0]), buf, sizeof(buf)), 0) << "no EOF";
}

TEST(EventTest, NonblockingPipeFillsToItsCapacity) {
  int fds[2];
  ASSERT_LKL_OK(lkl_sys_pipe2(fds, LKL_O_NONBLOCK));
  lkl::Fd rd(fds[0]), wr(fds[1]);
  char buf[4096];
  EXPECT_LKL_ERR(lkl_sys_read(U(fds[0]), buf, sizeof(buf)), LKL_EAGAIN);

  std::memset(buf, 'p', sizeof(buf));
  long total = 0, last = 0;
  for (int i = 0; i < 1024; i++) {
    last = lkl_sys_write(U(fds[1]), buf, sizeof(buf));
    if (last < 0) break;
    total += last;
  }
  EXPECT_LKL_ERR(last, LKL_EAGAIN);
  long cap = lkl_sys_fcntl(U(fds[1]), LKL_F_GETPIPE_SZ, 0);
  ASSERT_LKL_OK(cap);
  EXPECT_EQ(total, cap);

  long drained = 0;
  for (int i = 0; i < 1024; i++) {
    long n = lkl_sys_read(U(fds[0]), buf, sizeof(buf));
    if (n < 0) {
      EXPECT_LKL_ERR(n, LKL_EAGAIN);
      break;
    }
    drained += n;
  }
  EXPECT_EQ(drained, total);
}

long WriteU64(long fd, uint64_t v) {
  return lkl_sys_write(U(fd), reinterpret_cast<char *>(&v), sizeof(v));
}

long ReadU64(long fd, uint64_t *v) {
  return lkl_sys_read(U(fd), reinterpret_cast<char *>(v), sizeof(*v));
}

TEST(EventTest, EventfdCountsAndSemaphoreMode) {
  long efd = lkl_sys_eventfd2(0, LKL_EFD_NONBLOCK);
  ASSERT_LKL_OK(efd);
  lkl::Fd ev(static_cast<int>(efd));
  uint64_t v = 0;
  EXPECT_LKL_ERR(ReadU64(efd, &v), LKL_EAGAIN);
  ASSERT_EQ(WriteU64(efd, 3), 8);
  ASSERT_EQ(WriteU64(efd, 4), 8);
  ASSERT_EQ(ReadU64(efd, &v), 8);
  EXPECT_EQ(v, 7U);
  EXPECT_LKL_ERR(ReadU64(efd, &v), LKL_EAGAIN);
  uint32_t small;
  EXPECT_LKL_ERR(lkl_sys_read(U(efd), reinterpret_cast<char *>(&small), sizeof(small)), LKL_EINVAL);
  EXPECT_LKL_ERR(WriteU64(efd, ~0ULL), LKL_EINVAL);

  long sfd = lkl_sys_eventfd2(3, LKL_EFD_SEMAPHORE | LKL_EFD_NONBLOCK);
  ASSERT_LKL_OK(sfd);
  lkl::Fd sem(static_cast<int>(sfd));
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(ReadU64(sfd, &v), 8);
    EXPECT_EQ(v, 1U);
  }
  EXPECT_LKL_ERR(ReadU64(sfd, &v), LKL_EAGAIN);
}

// Returns the ready events' data (sorted) after a zero-timeout wait.
std::vector<uint64_t> Ready(long ep, uint32_t *events_or = nullptr) {
  struct lkl_epoll_event evs[8];
  std::memset(evs, 0, sizeof(evs));
  long n = lkl_sys_epoll_pwait(static_cast<int>(ep), evs, 8, 0, nullptr, 8);
  std::vector<uint64_t> out;
  EXPECT_LKL_OK(n);
  for (long i = 0; i < n; i++) {
    out.push_back(evs[i].data);
    if (events_or) *events_or |= evs[i].events;
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(EventTest, EpollReportsPipeAndEventfd) {
  using V = std::vector<uint64_t>;
  long ep = lkl_sys_epoll_create1(LKL_EPOLL_CLOEXEC);
  ASSERT_LKL_OK(ep);
  lkl::Fd epoll(static_cast<int>(ep));
  int p[2];
  ASSERT_LKL_OK(lkl_sys_pipe2(p, LKL_O_NONBLOCK));
  lkl::Fd rd(p[0]), wr(p[1]);
  long efd = lkl_sys_eventfd2(0, LKL_EFD_NONBLOCK);
  ASSERT_LKL_OK(efd);
  lkl::Fd ev(static_cast<int>(efd));

  struct lkl_epoll_event e;
  std::memset(&e, 0, sizeof(e));
  e.events = LKL_EPOLLIN;
  e.data = 1;
  ASSERT_LKL_OK(lkl_sys_epoll_ctl(static_cast<int>(ep), LKL_EPOLL_CTL_ADD, p[0], &e));
  EXPECT_LKL_ERR(lkl_sys_epoll_ctl(static_cast<int>(ep), LKL_EPOLL_CTL_ADD, p[0], &e), LKL_EEXIST);
  e.data = 2;
  ASSERT_LKL_OK(
      lkl_sys_epoll_ctl(static_cast<int>(ep), LKL_EPOLL_CTL_ADD, static_cast<int>(efd), &e));

  EXPECT_EQ(Ready(ep), V{});
  ASSERT_EQ(WriteU64(efd, 1), 8);
  uint32_t events = 0;
  EXPECT_EQ(Ready(ep, &events), V{2});
  EXPECT_TRUE(events & LKL_EPOLLIN);
  char x = 'x';
  ASSERT_EQ(lkl_sys_write(U(p[1]), &x, 1), 1);
  EXPECT_EQ(Ready(ep), (V{1, 2}));
  uint64_t v;
  ASSERT_EQ(ReadU64(efd, &v), 8);
  EXPECT_EQ(Ready(ep), V{1});
  ASSERT_EQ(lkl_sys_read(U(p[0]), &x, 1), 1);
  EXPECT_EQ(Ready(ep), V{});

  // Removed descriptors are no longer reported.
  ASSERT_LKL_OK(lkl_sys_epoll_ctl(static_cast<int>(ep), LKL_EPOLL_CTL_DEL, p[0], nullptr));
  ASSERT_EQ(lkl_sys_write(U(p[1]), &x, 1), 1);
  EXPECT_EQ(Ready(ep), V{});

  // An eventfd below its maximum is writable.
  e.events = LKL_EPOLLOUT;
  e.data = 3;
  ASSERT_LKL_OK(
      lkl_sys_epoll_ctl(static_cast<int>(ep), LKL_EPOLL_CTL_MOD, static_cast<int>(efd), &e));
  events = 0;
  EXPECT_EQ(Ready(ep, &events), V{3});
  EXPECT_TRUE(events & LKL_EPOLLOUT);
}

TEST(EventTest, BlockedEpollWaitIsWokenByAnotherThread) {
  Watchdog watchdog(60s, "epoll wake-up across threads");
  long ep = lkl_sys_epoll_create1(0);
  ASSERT_LKL_OK(ep);
  lkl::Fd epoll(static_cast<int>(ep));
  long efd = lkl_sys_eventfd2(0, 0);
  ASSERT_LKL_OK(efd);
  lkl::Fd ev(static_cast<int>(efd));
  struct lkl_epoll_event e;
  std::memset(&e, 0, sizeof(e));
  e.events = LKL_EPOLLIN;
  e.data = 42;
  ASSERT_LKL_OK(
      lkl_sys_epoll_ctl(static_cast<int>(ep), LKL_EPOLL_CTL_ADD, static_cast<int>(efd), &e));

  long n = -1;
  struct lkl_epoll_event got;
  std::memset(&got, 0, sizeof(got));
  Clock::duration waited{};
  std::atomic<bool> ready{false};
  std::thread waiter([&] {
    lkl_sys_gettid();  // the thread's first syscall sets it up in the kernel
    ready = true;
    auto start = Clock::now();
    n = lkl_sys_epoll_pwait(static_cast<int>(ep), &got, 1, 20000, nullptr, 8);
    waited = Clock::now() - start;
  });
  for (int i = 0; i < 1000 && !ready; i++) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(WriteU64(efd, 5), 8);
  waiter.join();
  ASSERT_EQ(n, 1) << DescribeRet(n);
  EXPECT_EQ(got.data, 42U);
  EXPECT_LT(waited, 10s) << "woken by the timeout, not by the write";
  EXPECT_GE(waited, 50ms) << "did not block at all";
}

TEST(EventTest, EpollTimeoutElapses) {
  long ep = lkl_sys_epoll_create1(0);
  ASSERT_LKL_OK(ep);
  lkl::Fd epoll(static_cast<int>(ep));
  struct lkl_epoll_event e;
  auto start = Clock::now();
  EXPECT_EQ(lkl_sys_epoll_pwait(static_cast<int>(ep), &e, 1, 100, nullptr, 8), 0);
  auto waited = Clock::now() - start;
  EXPECT_GE(waited, 100ms);
  EXPECT_LT(waited, 10s);
}

// ---------------------------------------------------------------- time

struct __lkl__kernel_timespec Ts(std::chrono::nanoseconds d) {
  struct __lkl__kernel_timespec ts;
  ts.tv_sec = d.count() / 1000000000;
  ts.tv_nsec = d.count() % 1000000000;
  return ts;
}

std::chrono::nanoseconds FromTs(const struct __lkl__kernel_timespec &ts) {
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

TEST(TimeTest, NanosleepSleepsAtLeastTheRequestedTime) {
  for (auto d : {1ms, 10ms, 50ms, 200ms}) {
    struct __lkl__kernel_timespec req = Ts(d);
    auto start = Clock::now();
    ASSERT_LKL_OK(lkl_sys_nanosleep(&req, nullptr));
    auto slept = Clock::now() - start;
    EXPECT_GE(slept, d) << "requested " << d.count() << " ms";
    EXPECT_LT(slept, d + 5s) << "requested " << d.count() << " ms";
  }
  struct __lkl__kernel_timespec bad = {0, 1000000000};
  EXPECT_LKL_ERR(lkl_sys_nanosleep(&bad, nullptr), LKL_EINVAL);
  bad = {-1, 0};
  EXPECT_LKL_ERR(lkl_sys_nanosleep(&bad, nullptr), LKL_EINVAL);
}

TEST(TimeTest, MonotonicClockNeverGoesBack) {
  struct __lkl__kernel_timespec ts;
  ASSERT_LKL_OK(lkl_sys_clock_gettime(LKL_CLOCK_MONOTONIC, &ts));
  auto prev = FromTs(ts);
  for (int i = 0; i < 10000; i++) {
    ASSERT_LKL_OK(lkl_sys_clock_gettime(LKL_CLOCK_MONOTONIC, &ts));
    ASSERT_GE(ts.tv_nsec, 0);
    ASSERT_LT(ts.tv_nsec, 1000000000);
    auto now = FromTs(ts);
    ASSERT_GE(now, prev) << "went back at call " << i;
    prev = now;
  }
}

TEST(TimeTest, MonotonicClockAdvancesAcrossSleep) {
  struct __lkl__kernel_timespec t0, t1;
  struct __lkl__kernel_timespec req = Ts(20ms);
  auto host0 = Clock::now();
  ASSERT_LKL_OK(lkl_sys_clock_gettime(LKL_CLOCK_MONOTONIC, &t0));
  ASSERT_LKL_OK(lkl_sys_nanosleep(&req, nullptr));
  ASSERT_LKL_OK(lkl_sys_clock_gettime(LKL_CLOCK_MONOTONIC, &t1));
  auto host = Clock::now() - host0;
  auto kernel = FromTs(t1) - FromTs(t0);
  EXPECT_GE(kernel, 20ms);
  // The kernel clock runs at host speed (allowing a coarse tick).
  EXPECT_LE(kernel, host + 20ms);
}

// ---------------------------------------------------------------- proc, sysfs

TEST(PseudoFsTest, ProcNetSnmpHasTcpAndUdp) {
  ASSERT_LKL_OK(EnsureProcAndSys());
  long err = 0;
  std::string snmp = ReadFile("/proc/net/snmp", &err);
  ASSERT_LKL_OK(err);
  int tcp = 0, udp = 0;
  bool tcp_header = false, udp_header = false;
  size_t pos = 0;
  for (int i = 0; i < 1000 && pos < snmp.size(); i++) {
    size_t end = snmp.find('\n', pos);
    if (end == std::string::npos) end = snmp.size();
    std::string_view line(snmp.data() + pos, end - pos);
    if (line.substr(0, 4) == "Tcp:") {
      tcp++;
      tcp_header |= line.find("ActiveOpens") != line.npos;
    }
    if (line.substr(0, 4) == "Udp:") {
      udp++;
      udp_header |= line.find("InDatagrams") != line.npos;
    }
    pos = end + 1;
  }
  // One header and one value line each.
  EXPECT_EQ(tcp, 2) << snmp;
  EXPECT_EQ(udp, 2) << snmp;
  EXPECT_TRUE(tcp_header) << snmp;
  EXPECT_TRUE(udp_header) << snmp;
}

TEST(PseudoFsTest, ProcVersionNamesTheKernel) {
  ASSERT_LKL_OK(EnsureProcAndSys());
  std::string version = ReadFile("/proc/version");
  EXPECT_EQ(version.rfind("Linux version 6.12.", 0), 0U) << version;
}

TEST(PseudoFsTest, SysClassNetLoExists) {
  ASSERT_LKL_OK(EnsureProcAndSys());
  struct lkl_stat st;
  std::memset(&st, 0, sizeof(st));
  ASSERT_LKL_OK(lkl_sys_newfstatat(LKL_AT_FDCWD, "/sys/class/net/lo", &st, 0));
  EXPECT_EQ(st.st_mode & LKL_S_IFMT, static_cast<unsigned>(LKL_S_IFDIR));
  EXPECT_EQ(ReadFile("/sys/class/net/lo/mtu"), "65536\n");
  // ARPHRD_LOOPBACK
  EXPECT_EQ(ReadFile("/sys/class/net/lo/type"), "772\n");
  EXPECT_LKL_ERR(lkl_sys_newfstatat(LKL_AT_FDCWD, "/sys/class/net/no_such_dev", &st, 0),
                 LKL_ENOENT);
}

// ---------------------------------------------------------------- concurrency

// 64 host threads, each hammering getpid and its own pipe or eventfd.
TEST(ConcurrencyTest, SixtyFourThreadsMakeSyscallsAtOnce) {
  constexpr int kThreads = 64;
  constexpr int kIterations = 1000;
  Watchdog watchdog(300s, "64 threads x 1000 syscall iterations");
  const auto deadline = Clock::now() + 240s;
  const long pid = lkl_sys_getpid();
  ASSERT_GT(pid, 0);

  std::atomic<long> completed{0};
  std::mutex mu;
  std::string first_error;
  auto fail = [&](int t, int it, const std::string &what, long ret) {
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.empty())
      first_error = "thread " + std::to_string(t) + " iteration " + std::to_string(it) + ": " +
                    what + " -> " + DescribeRet(ret);
  };

  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      int fds[2] = {-1, -1};
      const bool use_pipe = t % 2 == 0;
      long r = use_pipe ? lkl_sys_pipe2(fds, 0) : lkl_sys_eventfd2(0, 0);
      if (r < 0) return fail(t, -1, "create", r);
      if (!use_pipe) fds[0] = fds[1] = static_cast<int>(r);
      for (int it = 0; it < kIterations; it++) {
        if (Clock::now() > deadline) return fail(t, it, "deadline", 0);
        r = lkl_sys_getpid();
        if (r != pid) return fail(t, it, "getpid", r);
        if (use_pipe) {
          char out = static_cast<char>(t * 31 + it);
          char in = 0;
          r = lkl_sys_write(U(fds[1]), &out, 1);
          if (r != 1) return fail(t, it, "write", r);
          r = lkl_sys_read(U(fds[0]), &in, 1);
          if (r != 1 || in != out) return fail(t, it, "read", r);
        } else {
          uint64_t v = 0;
          r = WriteU64(fds[1], it + 1);
          if (r != 8) return fail(t, it, "write", r);
          r = ReadU64(fds[0], &v);
          if (r != 8 || v != uint64_t(it + 1)) return fail(t, it, "read", r);
        }
        completed++;
      }
      lkl_sys_close(U(fds[0]));
      if (use_pipe) lkl_sys_close(U(fds[1]));
    });
  }
  for (auto &t : threads) t.join();
  EXPECT_EQ(first_error, "");
  EXPECT_EQ(completed.load(), long(kThreads) * kIterations);
}

// ---------------------------------------------------------------- errors

TEST(ErrorTest, InvalidDescriptorIsEbadf) {
  char buf[8];
  struct lkl_stat st;
  EXPECT_LKL_ERR(lkl_sys_read(9999, buf, sizeof(buf)), LKL_EBADF);
  EXPECT_LKL_ERR(lkl_sys_write(9999, buf, sizeof(buf)), LKL_EBADF);
  EXPECT_LKL_ERR(lkl_sys_close(9999), LKL_EBADF);
  EXPECT_LKL_ERR(lkl_sys_fstat(9999, &st), LKL_EBADF);
  EXPECT_LKL_ERR(lkl_sys_lseek(9999, 0, LKL_SEEK_SET), LKL_EBADF);

  long efd = lkl_sys_eventfd2(0, 0);
  ASSERT_LKL_OK(efd);
  ASSERT_LKL_OK(lkl_sys_close(U(efd)));
  EXPECT_LKL_ERR(lkl_sys_close(U(efd)), LKL_EBADF) << "double close";

  long ep = lkl_sys_epoll_create1(0);
  ASSERT_LKL_OK(ep);
  lkl::Fd epoll(static_cast<int>(ep));
  struct lkl_epoll_event e;
  std::memset(&e, 0, sizeof(e));
  e.events = LKL_EPOLLIN;
  EXPECT_LKL_ERR(lkl_sys_epoll_ctl(static_cast<int>(ep), LKL_EPOLL_CTL_ADD, 9999, &e), LKL_EBADF);
}

TEST(ErrorTest, UnknownSyscallIsEnosys) {
  long params[6] = {};
  // Past the end of the table (463 entries in 6.12) and far beyond it.
  EXPECT_LKL_ERR(lkl_syscall(1000, params), LKL_ENOSYS);
  EXPECT_LKL_ERR(lkl_syscall(100000, params), LKL_ENOSYS);
  EXPECT_LKL_ERR(lkl_syscall(-1, params), LKL_ENOSYS);
  // The raw entry point works for a known number.
  EXPECT_EQ(lkl_syscall(__lkl__NR_getpid, params), lkl_sys_getpid());
}

TEST(ErrorTest, InvalidArguments) {
  int p[2];
  ASSERT_LKL_OK(lkl_sys_pipe2(p, 0));
  lkl::Fd rd(p[0]), wr(p[1]);
  EXPECT_LKL_ERR(lkl_sys_lseek(U(p[0]), 0, LKL_SEEK_SET), LKL_ESPIPE);
  EXPECT_LKL_ERR(lkl_sys_eventfd2(0, 0x7fff0000), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_sys_pipe2(p, 0x7fff0000), LKL_EINVAL);
  EXPECT_LKL_ERR(lkl_sys_openat(LKL_AT_FDCWD, "/no/such/file", LKL_O_RDONLY, 0), LKL_ENOENT);
  EXPECT_LKL_ERR(MkdirMount("none", "/mnt_nofs", "no_such_fs"), LKL_ENODEV);
  EXPECT_LKL_ERR(lkl_sys_socket(1000, LKL_SOCK_STREAM, 0), LKL_EAFNOSUPPORT);
}

TEST(ErrorTest, StrerrorDescribesErrors) {
  const char *enoent = lkl_strerror(LKL_ENOENT);
  const char *ebadf = lkl_strerror(LKL_EBADF);
  ASSERT_NE(enoent, nullptr);
  ASSERT_NE(ebadf, nullptr);
  EXPECT_GT(std::strlen(enoent), 0U);
  EXPECT_STRNE(enoent, ebadf);
}

// ---------------------------------------------------------------- compat API

// The upstream-LKL convenience wrappers (open, mkdir, stat, pipe, ...) map
// onto the *at / pipe2 / epoll_pwait syscalls of the generic table.
TEST(CompatApiTest, ClassicWrappersWork) {
  ASSERT_LKL_OK(EnsureTmpfs());
  ASSERT_LKL_OK(lkl_sys_mkdir("/tmp/compat", 0755));
  EXPECT_LKL_ERR(lkl_sys_mkdir("/tmp/compat", 0755), LKL_EEXIST);

  long fd = lkl_sys_open("/tmp/compat/a", LKL_O_CREAT | LKL_O_RDWR, 0600);
  ASSERT_LKL_OK(fd);
  char data[] = "compat";
  ASSERT_EQ(lkl_sys_write(U(fd), data, 6), 6);
  ASSERT_LKL_OK(lkl_sys_close(U(fd)));

  struct lkl_stat st;
  std::memset(&st, 0, sizeof(st));
  ASSERT_LKL_OK(lkl_sys_stat("/tmp/compat/a", &st));
  EXPECT_EQ(st.st_size, 6);
  EXPECT_EQ(st.st_mode & 0777, 0600U);

  ASSERT_LKL_OK(lkl_sys_rename("/tmp/compat/a", "/tmp/compat/b"));
  EXPECT_LKL_ERR(lkl_sys_stat("/tmp/compat/a", &st), LKL_ENOENT);
  ASSERT_LKL_OK(lkl_sys_stat("/tmp/compat/b", &st));
  EXPECT_LKL_ERR(lkl_sys_rmdir("/tmp/compat"), LKL_ENOTEMPTY);
  ASSERT_LKL_OK(lkl_sys_unlink("/tmp/compat/b"));
  ASSERT_LKL_OK(lkl_sys_rmdir("/tmp/compat"));
  EXPECT_LKL_ERR(lkl_sys_open("/tmp/compat/a", LKL_O_RDONLY, 0), LKL_ENOENT);

  int p[2];
  ASSERT_LKL_OK(lkl_sys_pipe(p));
  lkl::Fd rd(p[0]), wr(p[1]);
  long ep = lkl_sys_epoll_create(1);
  ASSERT_LKL_OK(ep);
  lkl::Fd epoll(static_cast<int>(ep));
  struct lkl_epoll_event e;
  std::memset(&e, 0, sizeof(e));
  e.events = LKL_EPOLLIN;
  e.data = 7;
  ASSERT_LKL_OK(lkl_sys_epoll_ctl(static_cast<int>(ep), LKL_EPOLL_CTL_ADD, p[0], &e));
  EXPECT_EQ(lkl_sys_epoll_wait(static_cast<int>(ep), &e, 1, 0), 0);
  ASSERT_EQ(lkl_sys_write(U(p[1]), data, 1), 1);
  std::memset(&e, 0, sizeof(e));
  EXPECT_EQ(lkl_sys_epoll_wait(static_cast<int>(ep), &e, 1, 0), 1);
  EXPECT_EQ(e.data, 7U);
}

// lkl_mount_fs() mounts a pseudo file system at /<type>, once.
TEST(CompatApiTest, MountFsHelper) {
  ASSERT_EQ(lkl_mount_fs("sysfs"), 0);
  struct lkl_stat st;
  std::memset(&st, 0, sizeof(st));
  EXPECT_LKL_OK(lkl_sys_stat("/sysfs/class/net/lo", &st));
  EXPECT_EQ(lkl_mount_fs("sysfs"), 1) << "second mount not detected";
  EXPECT_LT(lkl_mount_fs("no_such_fs"), 0);
}

// The C++ layer turns negative returns into exceptions carrying the errno.
TEST(CompatApiTest, CheckThrowsErrorWithErrno) {
  EXPECT_EQ(lkl::check(5, "five"), 5);
  try {
    lkl::check(lkl_sys_close(9999), "close");
    ADD_FAILURE() << "lkl::check did not throw";
  } catch (const lkl::Error &e) {
    EXPECT_EQ(e.code().value(), LKL_EBADF);
    EXPECT_NE(std::string(e.what()).find("close"), std::string::npos) << e.what();
  }
}

}  // namespace
