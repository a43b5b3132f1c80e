// Package interop tests logpipe against the Python original, django-logpipe
// 1.6.0, running in the Django project under testdata/django: records sent by
// one side are applied by the other, keys land on the same Kafka partition,
// and a consumer moves between Django and Go through the original's offsets
// tables without a gap or a duplicate.
//
// The tests need the virtual environment made by scripts/services/django.sh
// (LOGPIPE_TEST_DJANGO_PYTHON), PostgreSQL, the Kafka broker and the Kinesis
// emulator; scripts/test starts them all.
package interop
