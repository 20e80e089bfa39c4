// Making the kernel's virtio_mmio driver see a device (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES): before
// boot through the command line, after boot through the driver's "device" module parameter in
// sysfs, which registers a platform device on each write.
#ifndef LKL_LIB_VIRTIO_ANNOUNCE_H
#define LKL_LIB_VIRTIO_ANNOUNCE_H

#include <cstddef>

namespace lkl::virtio {

// Declares the device whose registers are at [base, base + size), raising irq. Before boot this
// appends " virtio_mmio.device=<size>@<base>:<irq>" to lkl_host_ops.virtio_devices (which
// lkl_start_kernel adds to the command line); once the kernel runs, it writes
// "<size>@<base>:<irq>" to /sys/module/virtio_mmio/parameters/device (sysfs is mounted on
// /sysfs if needed), which probes the device before returning. 0 or a negative LKL errno.
//
// Upstream virtio_mmio makes that parameter read-only (S_IRUSR), and the kernel then gives it no
// store method at all: the write fails with -EACCES unless the kernel carries patches/0001.
int announce(long base, unsigned long size, int irq) noexcept;

// Before boot: drops the command-line entry. After boot: unbinds the driver from the device.
// The kernel keeps the platform device (and its claim on the window and irq) for good, so a
// window withdrawn after boot can only be reused through rebind().
int withdraw(long base) noexcept;

// After boot: probes the platform device of a withdrawn window again.
int rebind(long base) noexcept;

// Writes the sysfs directory of the virtio device the driver created for the window at base
// ("/sysfs/bus/platform/devices/virtio-mmio.<n>/virtio<m>") into path. 0 or a negative errno
// (-ENODEV if the driver has not probed it).
int device_sysfs_dir(long base, char *path, std::size_t size) noexcept;

// Small helpers for the kernel's sysfs (mounted on /sysfs on first use).
// Reads a file into buf (NUL terminated): its length or a negative errno.
long sysfs_read(const char *path, char *buf, std::size_t size) noexcept;
// Writes path of the first entry of dir whose name starts with prefix: 0 or a negative errno
// (-ENODEV if there is none).
int sysfs_find(const char *dir, const char *prefix, char *path, std::size_t size) noexcept;

}  // namespace lkl::virtio

#endif  // LKL_LIB_VIRTIO_ANNOUNCE_H
