/* test_sizes.c — base/sizes.h: products and sums that would wrap are refused, the memory limit
 * is checked with a message that gives both numbers. */
#include <stdint.h>
#include <string.h>

#include "base/sizes.h"
#include "test_util.h"

int main(void) {
    size_t out = 12345;
    CHECK(size_mul(3, 4, &out) == 0 && out == 12, "3 x 4");
    CHECK(size_mul(0, UINT64_MAX, &out) == 0 && out == 0, "0 x max");
    out = 7;
    CHECK(size_mul(1ull << 32, 1ull << 32, &out) == -1 && out == 7, "2^64 refused, out untouched");
    /* the hostile file's numbers: 3892776002 x 1184677982 x 4 wraps to 240 bytes */
    CHECK(size_mul3(3892776002ull, 1184677982ull, 4, &out) == -1, "rows x cols x 4 past 2^64 refused");
    CHECK(size_mul3(4000000000ull, 1000, 4, &out) == 0 && out == 16000000000000ull, "16 TB computed exactly");
    CHECK(size_add(SIZE_MAX, 1, &out) == -1, "SIZE_MAX + 1 refused");
    CHECK(size_add(SIZE_MAX - 1, 1, &out) == 0 && out == SIZE_MAX, "SIZE_MAX - 1 + 1");

    int64_t c = 5;
    CHECK(count_add(INT64_MAX, 1, &c) == -1 && c == 5, "INT64_MAX + 1 refused");
    CHECK(count_add(2, -3, &c) == -1, "a negative count refused");
    CHECK(count_add(2, 3, &c) == 0 && c == 5, "2 + 3");

    CHECK(size_memory_limit() > ((size_t)16 << 20), "the machine has more than 16 MB available");
    Error err = {{0}};
    size_set_memory_limit((size_t)1 << 20);
    CHECK(size_check_memory((size_t)1 << 20, &err) == 0, "exactly the limit fits");
    CHECK(size_check_memory(((size_t)1 << 20) + 1, &err) == -1 && strstr(err.msg, "1.05 MB") &&
              strstr(err.msg, "allowed"), "over the limit: %s", err.msg);
    size_set_memory_limit(0);
    CHECK(size_check_memory(SIZE_MAX, &err) == -1 && strstr(err.msg, "available (free memory and swap)"), "machine limit: %s",
          err.msg);
    char buf[32];
    size_format(512, buf, sizeof buf);
    CHECK(!strcmp(buf, "512 bytes"), "512 bytes: %s", buf);
    size_format(16000000000000ull, buf, sizeof buf);
    CHECK(!strcmp(buf, "16 TB"), "16 TB: %s", buf);
    return test_finish("test_sizes", 0);
}
