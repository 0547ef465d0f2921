/* cuda_emu.cpp — how cuda_emu.h runs a grid: a block's threads as fibers, and a scheduler that
 * releases them at __syncthreads() and warp shuffles. Streams, graphs and the rest of the
 * runtime are cudart_emu.cpp's. */
#include "cuda_emu.h"

#include <ucontext.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace cuda_emu {

Builtins current;
int64_t launches;

namespace {

/* Where a fiber stands when it hands control back to the scheduler. */
enum class Wait { RUNNABLE, BLOCK_BARRIER, SHUFFLE, DONE };

struct Fiber {
    ucontext_t context;
    std::vector<char> stack;
    uint3 index;
    Wait wait = Wait::RUNNABLE;
    /* a pending shuffle */
    unsigned mask = 0;
    uint64_t bits = 0, result = 0;
    int lane_arg = 0, width = 32, is_xor = 0;
};

/* 64 KiB: the kernels keep a few hundred bytes on their stacks (cuRAND's state, a HeadsArgs). */
constexpr size_t FIBER_STACK = 64 << 10;

struct BlockRun {
    ucontext_t scheduler;
    std::vector<Fiber> fibers; /* a pool: the block uses the first `count` */
    int count = 0;
    Fiber *running = nullptr;
    const std::function<void()> *body = nullptr;
};
BlockRun *block_run; /* the block being run; one at a time */

bool grid_failed; /* an error in this grid: the remaining blocks are not run */

/* A kernel that breaks CUDA's rules fails the way a faulting kernel does: stickily. */
void fail(cudaError_t code, const char *fmt, ...) {
    if (grid_failed) return;
    grid_failed = true;
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    set_error(code, true, "%s", text);
}

void fiber_main() {
    BlockRun *run = block_run;
    (*run->body)();
    run->running->wait = Wait::DONE; /* uc_link returns to the scheduler */
}

/* Back to the scheduler until it releases this fiber. */
void yield_as(Wait why) {
    Fiber *self = block_run->running;
    self->wait = why;
    swapcontext(&self->context, &block_run->scheduler);
}

int linear(const uint3 &i, const dim3 &d) {
    return (int)(i.x + d.x * (i.y + d.y * i.z));
}

/* Completes the shuffles of warp w if every lane they name has arrived. Returns 1 when the
 * warp's lanes were released, 0 when it has no shuffle pending, -1 on an error (recorded). */
int resolve_shuffles(BlockRun &run, int w) {
    int n = run.count, first = w * 32, last = first + 32 < n ? first + 32 : n;
    Fiber *lead = nullptr;
    for (int t = first; t < last; t++)
        if (run.fibers[t].wait == Wait::SHUFFLE) {
            lead = &run.fibers[t];
            break;
        }
    if (!lead) return 0;
    for (int t = first; t < last; t++) {
        Fiber &f = run.fibers[t];
        int lane = t - first;
        if (!(lead->mask >> lane & 1u)) continue;
        if (f.wait != Wait::SHUFFLE || f.mask != lead->mask || f.is_xor != lead->is_xor) {
            fail(cudaErrorIllegalInstruction,
                 "warp shuffle with mask %08x in thread (%u,%u,%u) of block (%u,%u,%u): lane %d %s", lead->mask,
                 lead->index.x, lead->index.y, lead->index.z, current.block_idx.x, current.block_idx.y,
                 current.block_idx.z, lane,
                 f.wait == Wait::DONE            ? "has exited"
                 : f.wait == Wait::BLOCK_BARRIER ? "waits at __syncthreads()"
                                                 : "is in a different shuffle");
            return -1;
        }
    }
    for (int lane = last - first; lane < 32; lane++)
        if (lead->mask >> lane & 1u) {
            fail(cudaErrorIllegalInstruction, "warp shuffle names lane %d, past the block's %d threads", lane, n);
            return -1;
        }
    for (int t = first; t < last; t++) {
        Fiber &f = run.fibers[t];
        if (f.wait != Wait::SHUFFLE) continue;
        int lane = t - first, base = lane / f.width * f.width;
        int src = f.is_xor ? lane ^ f.lane_arg : base + (f.lane_arg % f.width);
        if (src < base || src >= base + f.width || src >= last - first) src = lane; /* out of range: own value */
        f.result = run.fibers[first + src].bits;
    }
    for (int t = first; t < last; t++)
        if (run.fibers[t].wait == Wait::SHUFFLE) run.fibers[t].wait = Wait::RUNNABLE;
    return 1;
}

/* A fresh context at the start of the kernel, on the fiber's own stack. */
void start_fiber(BlockRun &run, Fiber &f, uint3 index) {
    f.index = index;
    f.wait = Wait::RUNNABLE;
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.data();
    f.context.uc_stack.ss_size = f.stack.size();
    f.context.uc_link = &run.scheduler;
    makecontext(&f.context, fiber_main, 0);
}

void run_block(BlockRun &run) {
    for (;;) {
        for (int t = 0; t < run.count; t++) {
            Fiber &f = run.fibers[t];
            if (f.wait != Wait::RUNNABLE) continue;
            run.running = &f;
            current.thread_idx = f.index;
            swapcontext(&run.scheduler, &f.context);
            if (grid_failed) return;
        }
        int released = 0, live = 0, at_barrier = 0;
        for (int w = 0; w * 32 < run.count; w++) {
            int r = resolve_shuffles(run, w);
            if (r < 0) return;
            released += r;
        }
        if (released) continue;
        for (int t = 0; t < run.count; t++) {
            live += run.fibers[t].wait != Wait::DONE;
            at_barrier += run.fibers[t].wait == Wait::BLOCK_BARRIER;
        }
        if (!live) return;
        /* CUDA: __syncthreads() must be reached by every thread of the block or by none. Threads
         * that have exited while others wait is that rule broken (hardware may or may not hang). */
        if (at_barrier != run.count) {
            fail(cudaErrorIllegalInstruction,
                 "block (%u,%u,%u): %d of its %d threads wait at __syncthreads(), %d have exited, %d wait elsewhere",
                 current.block_idx.x, current.block_idx.y, current.block_idx.z, at_barrier, run.count,
                 run.count - live, live - at_barrier);
            return;
        }
        for (int t = 0; t < run.count; t++)
            if (run.fibers[t].wait == Wait::BLOCK_BARRIER) run.fibers[t].wait = Wait::RUNNABLE;
    }
}

} // namespace

bool launch_valid(dim3 grid, dim3 block, size_t shared_bytes) {
    /* The limits a launch on sm_90 checks (dynamic shared memory is not used by kernels/). */
    uint64_t threads = (uint64_t)block.x * block.y * block.z;
    if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 ||
        grid.z > 65535 || grid.x > 0x7fffffffu) {
        set_error(cudaErrorInvalidConfiguration, false,
                  "invalid launch configuration: grid (%u,%u,%u), block (%u,%u,%u)", grid.x, grid.y, grid.z, block.x,
                  block.y, block.z);
        return false;
    }
    if (shared_bytes) {
        set_error(cudaErrorInvalidValue, false, "dynamic shared memory (%zu bytes) is not emulated", shared_bytes);
        return false;
    }
    return true;
}

void run_grid(dim3 grid, dim3 block, const std::function<void()> &body) {
    launches++;
    grid_failed = false;
    uint64_t threads = (uint64_t)block.x * block.y * block.z;
    /* One set of fibers, kept from launch to launch: their stacks are the costly part. */
    static BlockRun run;
    run.body = &body;
    run.count = (int)threads;
    if (run.fibers.size() < threads) {
        run.fibers.resize(threads);
        for (Fiber &f : run.fibers)
            if (f.stack.empty()) f.stack.resize(FIBER_STACK);
    }
    block_run = &run;
    current.grid_dim = grid;
    current.block_dim = block;
    for (unsigned bz = 0; bz < grid.z && !grid_failed; bz++)
        for (unsigned by = 0; by < grid.y && !grid_failed; by++)
            for (unsigned bx = 0; bx < grid.x && !grid_failed; bx++) {
                current.block_idx = make_uint3(bx, by, bz);
                for (unsigned t = 0; t < threads; t++) {
                    uint3 index = make_uint3(t % block.x, t / block.x % block.y, t / (block.x * block.y));
                    start_fiber(run, run.fibers[t], index);
                }
                run_block(run);
            }
    block_run = nullptr; /* kernels do not launch kernels: no outer grid to return to */
}

void run_grid_flat(dim3 grid, dim3 block, const std::function<void()> &body) {
    launches++;
    grid_failed = false;
    current.grid_dim = grid;
    current.block_dim = block;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                current.block_idx = make_uint3(bx, by, bz);
                for (unsigned tz = 0; tz < block.z; tz++)
                    for (unsigned ty = 0; ty < block.y; ty++)
                        for (unsigned tx = 0; tx < block.x; tx++) {
                            current.thread_idx = make_uint3(tx, ty, tz);
                            body();
                            if (grid_failed) return;
                        }
            }
}

void sync_block() {
    if (!block_run) { /* translate_launches.py judged the kernel free of synchronisation */
        fail(cudaErrorIllegalInstruction, "__syncthreads() in a kernel launched without fibers");
        return;
    }
    yield_as(Wait::BLOCK_BARRIER);
}

uint64_t shuffle_exchange(unsigned mask, uint64_t bits, int lane_arg, int width, int is_xor) {
    if (!block_run) {
        fail(cudaErrorIllegalInstruction, "warp shuffle in a kernel launched without fibers");
        return bits;
    }
    Fiber *self = block_run->running;
    self->mask = mask;
    self->bits = bits;
    self->lane_arg = lane_arg;
    self->width = width;
    self->is_xor = is_xor;
    int lane = linear(self->index, current.block_dim) % 32;
    if (!(mask >> lane & 1u))
        fail(cudaErrorIllegalInstruction, "warp shuffle by lane %d, which its mask %08x leaves out", lane, mask);
    yield_as(Wait::SHUFFLE);
    return self->result;
}

} // namespace cuda_emu
