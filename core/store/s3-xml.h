/* core/store/s3-xml.h: a small, strict reader for the XML documents S3 answers with (ListObjectsV2,
 * ListObjectVersions, ListMultipartUploads, InitiateMultipartUpload, Error,
 * ObjectLockConfiguration, VersioningConfiguration). It knows elements, attributes (skipped),
 * text, the five named entities and numeric character references, comments and an XML
 * declaration; anything else (a DOCTYPE, CDATA, processing instructions after the start,
 * mismatched tags, text outside the root) is refused with -EBADMSG. Bounded: documents of at most
 * YB_S3_XML_MAX bytes, YB_S3_XML_DEPTH levels and YB_S3_XML_TEXT bytes of text per element.
 * Element names are matched without their namespace prefix ("s3:Key" is "Key"). */
#pragma once

#include <stddef.h>

#define YB_S3_XML_MAX ((size_t) 16 << 20)
#define YB_S3_XML_DEPTH 16
#define YB_S3_XML_TEXT ((size_t) 64 << 10)

/* Called at the end of each element with its path from the root ("ListBucketResult/Contents/Key")
 * and its text (entities decoded, NUL-terminated, len bytes; "" for an element that holds
 * elements). Returning < 0 stops the parse with that value. */
typedef int (*YbS3XmlFn)(void *userdata, const char *path, const char *text, size_t len);

/* Parses the n bytes at data, calling fn as above. Returns 0, -EBADMSG for a document that is not
 * as described, -E2BIG past a bound, -ENOMEM, or what fn returned. */
int yb_s3_xml_parse(const char *data, size_t n, YbS3XmlFn fn, void *userdata);

/* The text of the first element at path, in *ret (the caller frees it; NULL when there is none).
 * Returns 0 or the parse's error. */
int yb_s3_xml_value(const char *data, size_t n, const char *path, char **ret);

/* Calls fn for each element at record (a path, such as "ListBucketResult/Contents") with the
 * texts of its children named in fields[0..n_fields) (values[i] NULL when the record lacks one;
 * borrowed for the call). At most 8 fields. Returns 0, a parse error, or what fn returned. */
int yb_s3_xml_records(const char *data, size_t n, const char *record, const char *const *fields,
                      size_t n_fields, int (*fn)(void *userdata, char **values), void *userdata);
