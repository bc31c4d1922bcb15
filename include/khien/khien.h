/* Khiên — umbrella header for libkhien. */
#ifndef KHIEN_H
#define KHIEN_H
#include "common.h"
#include "error.h"
#include "rules.h"
#include "scan.h"
#include "audit.h"
#endif
