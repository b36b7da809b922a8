# shellcheck shell=bash
# Environment for tests that start containers on a machine without a container registry.
# Source it (do not execute it):  source build/testenv/env.sh
# The images are built by build/testenv/setup.sh. DOCKER_API_VERSION is deliberately not set:
# testcontainers-go negotiates the engine's API version itself.

# The reaper (ryuk) image cannot be pulled here; tests terminate their own containers.
# testcontainers-go requires the literal value "true".
export TESTCONTAINERS_RYUK_DISABLED=true
# This machine has /.dockerenv, so testcontainers would believe it runs inside a container and
# wait on the default gateway; published ports are on localhost.
export TESTCONTAINERS_HOST_OVERRIDE=localhost
# Locally built images instead of postgres:14-alpine / redis:7-alpine. The image of another
# major is this one with its tag's number replaced (visiona-local/postgres:18).
export VISIONA_TESTDB_POSTGRES_IMAGE=visiona-local/postgres:14
export VISIONA_TESTDB_REDIS_IMAGE=visiona-local/redis:7
