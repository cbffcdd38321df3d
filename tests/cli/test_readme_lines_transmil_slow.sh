#!/usr/bin/env bash
# The 4 TransMIL training lines of the original v1 README (init C16 / TCGA, MHIM C16 / TCGA) on tiny synthetic
# cohorts for 2 epochs: test_readme_lines.sh with README_LINES=transmil (minutes: see there).
README_LINES=transmil exec bash "$(dirname "$0")/test_readme_lines.sh"
