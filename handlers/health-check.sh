#!/bin/sh
# health-check.sh USER: the smallest job; succeeds when the agent can run handlers.
echo "healthy"
exit 0
