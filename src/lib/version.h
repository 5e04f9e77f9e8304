/*
 * version - owlpost's release, printed by --version of owld, owlctl and
 * owl and logged by owld at start-up.  A define, nothing to fail.
 */
#ifndef OWL_VERSION_H
#define OWL_VERSION_H

#define OWLPOST_VERSION "0.1.0"

#endif
