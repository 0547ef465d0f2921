/* fuzz_config.c — libFuzzer harness: any bytes as a config file (algo/config_yaml.c: ours and
 * CORL's keys, libyaml underneath). A config that loads must validate or be refused with a
 * message, and must survive the round trip a run makes of it: written as config.yaml, read
 * back, written again, byte for byte the same (a resume depends on it). Seeds: configs/ and
 * tests/algo's snippets (make_seeds.py). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/config_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Config c;
    Error err;
    config_defaults(&c);
    if (config_load_string(&c, (const char *)data, size, "fuzz.yaml", NULL, &err) != 0) return 0;
    (void)config_validate(&c, &err);
    char *yaml = config_to_yaml_string(&c);
    if (!yaml) {
        fprintf(stderr, "fuzz: a loaded config cannot be written as YAML\n");
        abort();
    }
    Config back;
    config_defaults(&back);
    if (config_load_string(&back, yaml, strlen(yaml), "config.yaml", NULL, &err) != 0) {
        fprintf(stderr, "fuzz: the written config does not load: %s\n%s", err.msg, yaml);
        abort();
    }
    char *again = config_to_yaml_string(&back);
    if (!again || strcmp(yaml, again) != 0) {
        fprintf(stderr, "fuzz: the config changed in a round trip:\n%s---\n%s", yaml, again ? again : "(null)");
        abort();
    }
    free(yaml);
    free(again);
    return 0;
}
