//! A sans-I/O streaming `multipart/form-data` reader (to be written).
