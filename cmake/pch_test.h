// The precompiled header of the GoogleTest programs (cmake/pch.cmake): the
// common one plus GoogleTest and GoogleMock, which 190 test files include.
#pragma once

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pch_common.h"
