/* SPDX-License-Identifier: MIT */
#pragma once

#include "efi.h"

/* True when the firmware enforces Secure Boot, and also when the SecureBoot variable exists but
 * cannot be read or holds anything but 0 or 1: an unknown state must not loosen any rule. */
bool secure_boot_enabled(void);
