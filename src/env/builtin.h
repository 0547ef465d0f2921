/* builtin.h — the built-in environment tables (internal to src/env; callers use env_lookup). */
#ifndef CUIQL_ENV_BUILTIN_H
#define CUIQL_ENV_BUILTIN_H

#include "env/env.h"

extern const Env env_pendulum;     /* pendulum.c */
extern const Env env_mountaincar;  /* mountaincar.c */
extern const Env env_pointmaze;    /* pointmaze.c */

#endif
