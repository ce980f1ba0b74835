#!/bin/sh
exec /usr/bin/env python3 -m portal --config /srv/hr-portal/etc/portal.yaml
