// GETPID, PIPE_READ, SLEEP and IDLE: system calls timed in this thread with CLOCK_MONOTONIC, on
// the host kernel or on the library. Each report also says how often the host switched between
// this process's threads per call (getrusage: the hand-offs a call costs) and, on the library,
// how many timer interrupts its kernel took meanwhile.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "histogram.h"
#include "tests.h"

namespace perf {
namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + static_cast<uint64_t>(ts.tv_nsec);
}

double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

long check(SyscallOps &ops, long ret, const char *what) {
  if (ret < 0)
    throw Error(std::string(ops.name()) + " " + what + ": " +
                ops.error_text(static_cast<int>(-ret)));
  return ret;
}

// The process's CPU time and host context switches (all its threads: the library's too), and
// the library kernel's timer interrupts (null on the host).
struct Usage {
  uint64_t at_ns = 0;
  double cpu_user_s = 0, cpu_system_s = 0;
  long long switches = 0;  // voluntary + involuntary
  long long timer_irqs = -1;

  static Usage now(SyscallOps &ops) {
    Usage u;
    u.timer_irqs = ops.timer_interrupts();  // first: reading /proc costs calls of its own
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    u.cpu_user_s = static_cast<double>(r.ru_utime.tv_sec) + r.ru_utime.tv_usec / 1e6;
    u.cpu_system_s = static_cast<double>(r.ru_stime.tv_sec) + r.ru_stime.tv_usec / 1e6;
    u.switches = r.ru_nvcsw + r.ru_nivcsw;
    u.at_ns = now_ns();
    return u;
  }

  // The fields of the report for what happened between before and this, over `per` calls.
  nlohmann::ordered_json since(const Usage &before, uint64_t calls) const {
    const double s = seconds(at_ns - before.at_ns);
    const double cpu = cpu_user_s - before.cpu_user_s + cpu_system_s - before.cpu_system_s;
    const auto n = static_cast<double>(std::max<uint64_t>(calls, 1));
    nlohmann::ordered_json j;
    j["cpu_s"] = cpu;
    j["cpu_percent"] = s > 0 ? cpu / s * 100 : 0.0;
    j["host_switches_per_s"] = s > 0 ? static_cast<double>(switches - before.switches) / s : 0.0;
    if (calls) j["host_switches_per_call"] = static_cast<double>(switches - before.switches) / n;
    if (timer_irqs >= 0 && before.timer_irqs >= 0) {
      j["timer_interrupts"] = timer_irqs - before.timer_irqs;
      j["timer_interrupts_per_s"] =
          s > 0 ? static_cast<double>(timer_irqs - before.timer_irqs) / s : 0.0;
    } else {
      j["timer_interrupts"] = nullptr;  // the host's are the machine's, not this process's
    }
    return j;
  }
};

// Runs one batch (returning the ns its calls took, summed as the test sees fit) until the count
// or the time is up, after one unmeasured batch; per-call ns of each batch go to a histogram in
// picoseconds (its 0.8 % buckets keep tens of ns apart).
template <typename Batch>
nlohmann::ordered_json batches(SyscallOps &ops, const TestSpec &spec, Batch run_batch) {
  run_batch();  // warm: caches, the shadow thread, the pipe's page
  for (uint64_t i = 0; i < spec.warmup; i += spec.batch) run_batch();
  const uint64_t count = std::max<uint64_t>((spec.calls + spec.batch - 1) / spec.batch, 1);
  const bool timed = spec.duration_s > 0;
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(spec.duration_s * 1e9);
  Histogram per_call_ps;
  uint64_t total_ns = 0, n = 0;
  const Usage before = Usage::now(ops);
  for (; timed ? n == 0 || now_ns() < deadline : n < count; n++) {
    const uint64_t ns = run_batch();
    total_ns += ns;
    per_call_ps.add(ns * 1000 / spec.batch);
  }
  const Usage after = Usage::now(ops);
  const uint64_t calls = n * spec.batch;
  const auto ns = [](uint64_t ps) { return static_cast<double>(ps) / 1000; };
  nlohmann::ordered_json r;
  r["calls"] = calls;
  r["batch"] = spec.batch;
  r["batches"] = n;
  r["elapsed_s"] = seconds(after.at_ns - before.at_ns);
  r["calls_per_s"] = total_ns ? static_cast<double>(calls) / seconds(total_ns) : 0.0;
  // mean: all calls over all their time; the rest: over the batches' per-call figures.
  r["ns_per_call"] = {{"mean", static_cast<double>(total_ns) / static_cast<double>(calls)},
                      {"min", ns(per_call_ps.min())},
                      {"p50", ns(per_call_ps.quantile(0.5))},
                      {"p99", ns(per_call_ps.quantile(0.99))},
                      {"max", ns(per_call_ps.max())}};
  r.update(after.since(before, calls));
  return r;
}

nlohmann::ordered_json getpid_test(SyscallOps &ops, const TestSpec &spec) {
  return batches(ops, spec, [&] {
    const uint64_t t0 = now_ns();
    for (uint32_t i = 0; i < spec.batch; i++) check(ops, ops.getpid(), "getpid");
    return now_ns() - t0;
  });
}

// A pipe of one kernel, closed when destroyed.
class Pipe {
 public:
  explicit Pipe(SyscallOps &ops) : ops_(ops) { check(ops, ops.pipe(fds_), "pipe"); }
  ~Pipe() {
    ops_.close(fds_[0]);
    ops_.close(fds_[1]);
  }
  Pipe(const Pipe &) = delete;
  Pipe &operator=(const Pipe &) = delete;

  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }

 private:
  SyscallOps &ops_;
  int fds_[2] = {-1, -1};
};

// The read always finds its byte: the path without sleeping. Only the reads are timed (each
// on its own, so the report's clock_ns, the cost of one clock reading, is in each figure).
nlohmann::ordered_json pipe_read_test(SyscallOps &ops, const TestSpec &spec) {
  const Pipe pipe(ops);
  uint64_t write_ns = 0, writes = 0;
  nlohmann::ordered_json r = batches(ops, spec, [&] {
    uint64_t ns = 0;
    const char out = 'p';
    char in = 0;
    for (uint32_t i = 0; i < spec.batch; i++) {
      const uint64_t t0 = now_ns();
      if (check(ops, ops.write(pipe.write_end(), &out, 1), "write") != 1)
        throw Error(std::string(ops.name()) + " write: wrote nothing");
      const uint64_t t1 = now_ns();
      if (check(ops, ops.read(pipe.read_end(), &in, 1), "read") != 1 || in != out)
        throw Error(std::string(ops.name()) + " read: not the byte written");
      const uint64_t t2 = now_ns();
      write_ns += t1 - t0;
      writes++;
      ns += t2 - t1;
    }
    return ns;
  });
  r["write_ns_mean"] = static_cast<double>(write_ns) / static_cast<double>(writes);
  const uint64_t t0 = now_ns();
  for (int i = 0; i < 1000; i++) now_ns();
  r["clock_ns"] = static_cast<double>(now_ns() - t0) / 1001;
  return r;
}

nlohmann::ordered_json sleep_test(SyscallOps &ops, const TestSpec &spec) {
  const std::chrono::nanoseconds asked(spec.sleep_ns);
  check(ops, ops.nanosleep(asked), "nanosleep");  // warm
  const bool timed = spec.duration_s > 0;
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(spec.duration_s * 1e9);
  Histogram late_ns;
  uint64_t early = 0, n = 0;
  const Usage before = Usage::now(ops);
  for (; timed ? n == 0 || now_ns() < deadline : n < spec.calls; n++) {
    const uint64_t t0 = now_ns();
    check(ops, ops.nanosleep(asked), "nanosleep");
    const uint64_t slept = now_ns() - t0;
    if (slept < spec.sleep_ns) early++;
    late_ns.add(slept > spec.sleep_ns ? slept - spec.sleep_ns : 0);
  }
  const Usage after = Usage::now(ops);
  const auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000; };
  nlohmann::ordered_json r;
  r["sleep_us"] = us(spec.sleep_ns);
  r["sleeps"] = n;
  r["early"] = early;  // returned before the time asked: a bug of the kernel's clock
  r["elapsed_s"] = seconds(after.at_ns - before.at_ns);
  r["lateness_us"] = {{"mean", late_ns.mean() / 1000},     {"min", us(late_ns.min())},
                      {"p50", us(late_ns.quantile(0.5))},  {"p90", us(late_ns.quantile(0.9))},
                      {"p99", us(late_ns.quantile(0.99))}, {"max", us(late_ns.max())}};
  r.update(after.since(before, n));
  return r;
}

// Nothing asked of the kernel: this thread sleeps on the host. What the process costs then is
// the kernel's idle cost: its tick, its timers and the threads they wake.
nlohmann::ordered_json idle_test(SyscallOps &ops, const TestSpec &spec) {
  const double s = spec.duration_s > 0 ? spec.duration_s : spec.idle_s;
  const Usage before = Usage::now(ops);
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
  const Usage after = Usage::now(ops);
  nlohmann::ordered_json r;
  r["elapsed_s"] = seconds(after.at_ns - before.at_ns);
  r.update(after.since(before, 0));
  return r;
}

}  // namespace

nlohmann::ordered_json run_syscall_test(SyscallOps &ops, const TestSpec &spec) {
  switch (spec.syscall) {
    case SyscallTest::kGetpid:
      return getpid_test(ops, spec);
    case SyscallTest::kPipeRead:
      return pipe_read_test(ops, spec);
    case SyscallTest::kSleep:
      return sleep_test(ops, spec);
    case SyscallTest::kIdle:
      return idle_test(ops, spec);
    case SyscallTest::kNone:
      break;
  }
  throw Error("not a system-call test: " + spec.name());
}

}  // namespace perf
