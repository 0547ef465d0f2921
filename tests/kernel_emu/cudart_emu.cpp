/* cudart_emu.cpp — the CUDA runtime as cuda_emu.h describes it: device memory in host memory,
 * streams as queues run in an adversarial but legal order, events, capture into graphs and
 * their replay, errors, one emulated device. Single-threaded, like the backend that uses it. */
#include "cuda_emu.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cuda_emu {

size_t reported_free_bytes = (size_t)16 << 30, reported_total_bytes = (size_t)16 << 30;

namespace {

/* ---- errors ---- */

cudaError_t last_error = cudaSuccess, sticky_error = cudaSuccess;
char error_text[512];

/* ---- streams ---- */

struct Stream;

/* A unit of queued work, or a wait until stream `on` has run its first `until` items. */
struct Op {
    std::function<void()> work;
    Stream *on = nullptr;
    uint64_t until = 0;
};

struct Stream {
    std::deque<Op> ops;
    uint64_t done = 0; /* items of this stream run so far (waits included) */
    uint64_t end() const { return done + ops.size(); }
};

struct Event {
    Stream *stream = nullptr; /* nullptr: never recorded, waiting on it waits for nothing */
    uint64_t point = 0;
    bool captured = false; /* recorded inside a capture: point counts the capture's items */
    double seconds = 0;    /* host clock when the stream reached it (for elapsed time) */
};

double now() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A graph: each stream's items in order, waits naming streams of the same graph. */
struct Graph {
    std::vector<Stream *> order; /* streams in order of first appearance */
    std::map<Stream *, std::vector<Op>> items;
};

struct Capture {
    Stream *origin = nullptr;
    Graph graph;
    bool invalid = false;
};

std::vector<Stream *> streams;              /* the real streams, in creation order */
Capture *capture;                           /* the capture in progress, if any */
std::map<const void *, size_t> pinned_size; /* cudaHostAlloc'd blocks: copies from them are legal in a capture */
std::map<const void *, size_t> device_size; /* cudaMalloc'd blocks: what cudaMemGetInfo counts as used */
size_t device_used;

bool reverse_order() {
    static int reverse = -1;
    if (reverse < 0) {
        const char *env = getenv("CUDA_EMU_SCHEDULE");
        reverse = !(env && std::string(env) == "forward");
    }
    return reverse == 1;
}

/* Runs the given queues until all are empty, choosing among the runnable ones by the policy.
 * Returns false if some wait can never be met. */
bool run_queues(std::vector<Stream *> &queues) {
    for (;;) {
        bool any_left = false, progressed = false;
        int n = (int)queues.size();
        for (int j = 0; j < n && !progressed; j++) {
            Stream *s = queues[reverse_order() ? n - 1 - j : j];
            if (s->ops.empty()) continue;
            any_left = true;
            /* run this stream as far as its waits allow */
            while (!s->ops.empty()) {
                Op &op = s->ops.front();
                if (op.on && op.on->done < op.until) break;
                Op taken = std::move(op);
                s->ops.pop_front();
                s->done++;
                progressed = true;
                if (taken.work) taken.work();
            }
        }
        if (!any_left) return true;
        if (!progressed) return false;
    }
}

/* Everything queued on every stream, run now (what any synchronising call does). */
cudaError_t drain() {
    if (!run_queues(streams)) set_error(cudaErrorLaunchFailure, true, "stream waits that can never be met (a cycle)");
    return sticky_error;
}

bool in_capture_refuse(const char *what) {
    if (!capture) return false;
    capture->invalid = true;
    set_error(cudaErrorStreamCaptureUnsupported, false, "%s during stream capture", what);
    return true;
}

/* Appends to the capture's record of stream s. */
void capture_append(Stream *s, Op op) {
    auto &items = capture->graph.items[s];
    if (items.empty()) capture->graph.order.push_back(s);
    items.push_back(std::move(op));
}

size_t device_free() {
    return reported_free_bytes > device_used ? reported_free_bytes - device_used : 0;
}

bool is_pinned(const void *p) {
    auto it = pinned_size.upper_bound(p);
    if (it == pinned_size.begin()) return false;
    --it;
    return (const char *)p < (const char *)it->first + it->second;
}

} // namespace

void set_error(cudaError_t code, bool sticky, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_text, sizeof error_text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "cuda_emu: %s\n", error_text);
    last_error = code;
    if (sticky && sticky_error == cudaSuccess) sticky_error = code;
}

cudaError_t get_last_error() {
    cudaError_t e = last_error != cudaSuccess ? last_error : sticky_error;
    last_error = cudaSuccess;
    return e;
}
cudaError_t peek_at_last_error() {
    return last_error != cudaSuccess ? last_error : sticky_error;
}
const char *last_error_detail() {
    return error_text;
}
cudaError_t device_error() {
    return sticky_error;
}
void clear_device_error() {
    sticky_error = last_error = cudaSuccess;
}

void enqueue(cudaStream_t stream, std::function<void()> work) {
    Stream *s = reinterpret_cast<Stream *>(stream);
    if (capture) {
        if (!s) { /* the legacy stream cannot be captured */
            in_capture_refuse("work on the null stream");
            return;
        }
        capture_append(s, Op{std::move(work), nullptr, 0});
        return;
    }
    if (!s) { /* the null stream: after everything else, at once */
        drain();
        work();
        return;
    }
    s->ops.push_back(Op{std::move(work), nullptr, 0});
}

/* ---- memory ---- */

/* Host memory standing in for either kind, filled with NaN bytes: memory read before it is
 * written shows. */
void *allocate(size_t bytes) {
    void *p = std::malloc(bytes ? bytes : 1);
    if (p) std::memset(p, 0xff, bytes);
    return p;
}

cudaError_t malloc_device(void **ptr, size_t bytes) {
    *ptr = nullptr;
    if (in_capture_refuse("cudaMalloc")) return cudaErrorStreamCaptureUnsupported;
    if (bytes > device_free()) return cudaErrorMemoryAllocation; /* more than the device has */
    if (!(*ptr = allocate(bytes))) return cudaErrorMemoryAllocation;
    device_size[*ptr] = bytes;
    device_used += bytes;
    return cudaSuccess;
}

cudaError_t host_alloc(void **ptr, size_t bytes, unsigned) {
    *ptr = nullptr;
    if (in_capture_refuse("cudaHostAlloc")) return cudaErrorStreamCaptureUnsupported;
    if (!(*ptr = allocate(bytes))) return cudaErrorMemoryAllocation;
    pinned_size[*ptr] = bytes;
    return cudaSuccess;
}

cudaError_t free_memory(void *ptr) {
    if (in_capture_refuse("cudaFree")) return cudaErrorStreamCaptureUnsupported;
    drain(); /* cudaFree waits for the device */
    pinned_size.erase(ptr);
    auto it = device_size.find(ptr);
    if (it != device_size.end()) {
        device_used -= it->second;
        device_size.erase(it);
    }
    std::free(ptr);
    return cudaSuccess;
}

cudaError_t memcpy_async(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
    bool from_host = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyHostToHost;
    bool to_host = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyHostToHost;
    bool from_pageable = from_host && !is_pinned(src), to_pageable = to_host && !is_pinned(dst);
    if ((from_pageable || to_pageable) && in_capture_refuse("a copy to or from pageable host memory"))
        return cudaErrorStreamCaptureUnsupported;
    if (from_pageable) {
        /* From pageable memory, CUDA stages the source before returning: the caller may reuse it. */
        auto copy = std::make_shared<std::vector<char>>((const char *)src, (const char *)src + bytes);
        enqueue(stream, [dst, copy] { std::memcpy(dst, copy->data(), copy->size()); });
        return cudaSuccess;
    }
    enqueue(stream, [dst, src, bytes] { std::memmove(dst, src, bytes); });
    if (to_pageable) return drain(); /* to pageable memory the call returns when done */
    return cudaSuccess;
}

cudaError_t memcpy_sync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    cudaError_t e = memcpy_async(dst, src, bytes, kind, nullptr);
    return e != cudaSuccess ? e : drain();
}

cudaError_t memset_async(void *dst, int value, size_t bytes, cudaStream_t stream) {
    enqueue(stream, [dst, value, bytes] { std::memset(dst, value, bytes); });
    return cudaSuccess;
}

cudaError_t mem_get_info(size_t *free_bytes, size_t *total_bytes) {
    *free_bytes = device_free();
    *total_bytes = reported_total_bytes;
    return cudaSuccess;
}

cudaError_t host_get_device_pointer(void **dev, void *host, unsigned) {
    *dev = host; /* one address space */
    return cudaSuccess;
}

/* ---- streams and events ---- */

cudaError_t stream_create(cudaStream_t *stream, unsigned) {
    Stream *s = new Stream;
    streams.push_back(s);
    *stream = reinterpret_cast<cudaStream_t>(s);
    return cudaSuccess;
}

cudaError_t stream_destroy(cudaStream_t stream) {
    Stream *s = reinterpret_cast<Stream *>(stream);
    if (!s) return cudaErrorInvalidResourceHandle;
    drain();
    for (size_t i = 0; i < streams.size(); i++)
        if (streams[i] == s) streams.erase(streams.begin() + (long)i);
    delete s;
    return cudaSuccess;
}

cudaError_t stream_synchronize(cudaStream_t) {
    if (in_capture_refuse("cudaStreamSynchronize")) return cudaErrorStreamCaptureUnsupported;
    return drain();
}

/* Answers "done" after running the work: the emulator has no background progress. */
cudaError_t stream_query(cudaStream_t stream) {
    return stream_synchronize(stream);
}

cudaError_t event_create(cudaEvent_t *event, unsigned) {
    *event = reinterpret_cast<cudaEvent_t>(new Event);
    return cudaSuccess;
}

cudaError_t event_destroy(cudaEvent_t event) {
    delete reinterpret_cast<Event *>(event);
    return cudaSuccess;
}

cudaError_t event_record(cudaEvent_t event, cudaStream_t stream) {
    Event *e = reinterpret_cast<Event *>(event);
    Stream *s = reinterpret_cast<Stream *>(stream);
    if (!e) return cudaErrorInvalidResourceHandle;
    if (capture) {
        if (!s) {
            in_capture_refuse("an event on the null stream");
            return cudaErrorStreamCaptureUnsupported;
        }
        auto it = capture->graph.items.find(s);
        e->stream = s;
        e->point = it == capture->graph.items.end() ? 0 : it->second.size();
        e->captured = true;
        return cudaSuccess;
    }
    if (!s) {
        drain();
        *e = Event{}; /* the null stream: a point already passed */
        e->seconds = now();
        return cudaSuccess;
    }
    /* the clock is read when the stream gets here: device time, as the event's */
    s->ops.push_back(Op{[e] { e->seconds = now(); }, nullptr, 0});
    e->stream = s;
    e->point = s->end();
    e->captured = false;
    return cudaSuccess;
}

cudaError_t stream_wait_event(cudaStream_t stream, cudaEvent_t event, unsigned) {
    Event *e = reinterpret_cast<Event *>(event);
    Stream *s = reinterpret_cast<Stream *>(stream);
    if (!e) return cudaErrorInvalidResourceHandle;
    if (!e->stream) return cudaSuccess;
    if (capture) {
        if (!s) return cudaErrorStreamCaptureUnsupported;
        /* A wait on work outside the capture is met before the graph runs (graph_launch drains). */
        if (!e->captured) return cudaSuccess;
        capture_append(s, Op{nullptr, e->stream, e->point});
        return cudaSuccess;
    }
    if (e->captured) return cudaSuccess; /* its capture has ended: nothing left to wait for */
    if (!s) return drain();
    s->ops.push_back(Op{nullptr, e->stream, e->point});
    return cudaSuccess;
}

cudaError_t event_synchronize(cudaEvent_t) {
    if (in_capture_refuse("cudaEventSynchronize")) return cudaErrorStreamCaptureUnsupported;
    return drain();
}

cudaError_t event_elapsed_time(float *ms, cudaEvent_t start, cudaEvent_t end) {
    if (in_capture_refuse("cudaEventElapsedTime")) return cudaErrorStreamCaptureUnsupported;
    drain();
    *ms = (float)(1e3 * (reinterpret_cast<Event *>(end)->seconds - reinterpret_cast<Event *>(start)->seconds));
    return sticky_error;
}

cudaError_t launch_host_func(cudaStream_t stream, cudaHostFn_t fn, void *arg) {
    enqueue(stream, [fn, arg] { fn(arg); });
    return cudaSuccess;
}

/* ---- graphs ---- */

cudaError_t begin_capture(cudaStream_t stream, cudaStreamCaptureMode) {
    if (capture || !stream) return cudaErrorIllegalState;
    capture = new Capture;
    capture->origin = reinterpret_cast<Stream *>(stream);
    return cudaSuccess;
}

cudaError_t end_capture(cudaStream_t stream, cudaGraph_t *graph) {
    *graph = nullptr;
    if (!capture || capture->origin != reinterpret_cast<Stream *>(stream)) return cudaErrorIllegalState;
    Capture *c = capture;
    capture = nullptr;
    if (c->invalid) {
        delete c;
        return cudaErrorStreamCaptureInvalidated;
    }
    *graph = reinterpret_cast<cudaGraph_t>(new Graph(std::move(c->graph)));
    delete c;
    return cudaSuccess;
}

cudaError_t graph_instantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long) {
    if (!graph) return cudaErrorInvalidValue;
    *exec = reinterpret_cast<cudaGraphExec_t>(new Graph(*reinterpret_cast<Graph *>(graph)));
    return cudaSuccess;
}

/* Runs after everything queued before it (so waits on work outside the graph are met), its own
 * streams in the scheduler's order as far as the captured waits allow. */
cudaError_t graph_launch(cudaGraphExec_t exec, cudaStream_t) {
    Graph *g = reinterpret_cast<Graph *>(exec);
    if (!g) return cudaErrorInvalidValue;
    if (capture) return in_capture_refuse("a graph launch") ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
    drain();
    std::map<Stream *, std::unique_ptr<Stream>> local;
    std::vector<Stream *> queues;
    for (Stream *s : g->order) {
        local[s] = std::make_unique<Stream>();
        queues.push_back(local[s].get());
    }
    for (Stream *s : g->order)
        for (const Op &op : g->items[s]) {
            Op copy = op;
            if (copy.on) copy.on = local.count(copy.on) ? local[copy.on].get() : nullptr;
            local[s]->ops.push_back(std::move(copy));
        }
    if (!run_queues(queues)) set_error(cudaErrorLaunchFailure, true, "a graph whose waits can never be met");
    return cudaSuccess;
}

cudaError_t graph_destroy(cudaGraph_t graph) {
    delete reinterpret_cast<Graph *>(graph);
    return cudaSuccess;
}

cudaError_t graph_exec_destroy(cudaGraphExec_t exec) {
    delete reinterpret_cast<Graph *>(exec);
    return cudaSuccess;
}

/* ---- the device ---- */

cudaError_t get_device_count(int *count) {
    *count = 1;
    return cudaSuccess;
}

/* An sm_90 device with few SMs (CUDA_EMU_SMS, default 2): grid-stride loops go round, and
 * emulated grids stay small. */
cudaError_t get_device_properties(cudaDeviceProp *prop, int device) {
    if (device != 0) return cudaErrorInvalidDevice;
    std::memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "cuda_emu (kernels on the CPU)");
    prop->major = 9;
    prop->minor = 0;
    const char *sms = getenv("CUDA_EMU_SMS");
    prop->multiProcessorCount = sms ? atoi(sms) : 2;
    prop->totalGlobalMem = reported_total_bytes;
    prop->maxThreadsPerBlock = 1024;
    prop->warpSize = 32;
    return cudaSuccess;
}

cudaError_t set_device(int device) {
    return device == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}
cudaError_t driver_get_version(int *version) {
    *version = CUDART_VERSION;
    return cudaSuccess;
}
cudaError_t runtime_get_version(int *version) {
    *version = CUDART_VERSION;
    return cudaSuccess;
}

} // namespace cuda_emu
