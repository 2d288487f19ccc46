// The one source of the targets that build Clover's precompiled headers
// (cmake/pch.cmake); a target needs a source for its header to be compiled.
