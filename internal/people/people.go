// Package people is the Person model and its serializers used by the
// project's tests, examples and benchmarks: the model of the original's
// README, with a version 1 (uuid, first_name, last_name) and a version 2
// (adds email) serializer.
package people

import (
	"context"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/logpipe-go/logpipe"
)

// Person is the application's row, in table people.
type Person struct {
	ID        uint      `gorm:"primaryKey"`
	UUID      uuid.UUID `gorm:"type:varchar(36);uniqueIndex;not null"`
	FirstName string    `gorm:"size:200;not null"`
	LastName  string    `gorm:"size:200;not null"`
	Email     *string   `gorm:"size:200"`
}

// TableName returns "people".
func (Person) TableName() string { return "people" }

// PersonV1 is version 1 of the "person" message.
type PersonV1 struct {
	UUID      UUID   `json:"uuid"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// MessageType returns "person".
func (*PersonV1) MessageType() string { return "person" }

// Version returns 1.
func (*PersonV1) Version() int { return 1 }

// KeyField returns "uuid".
func (*PersonV1) KeyField() string { return "uuid" }

// Validate checks the fields as the original's model serializer does:
// uuid required, names required, not blank, at most 200 characters.
func (p *PersonV1) Validate() error {
	return errors.Join(
		required("uuid", p.UUID != UUID(uuid.Nil)),
		name("first_name", p.FirstName),
		name("last_name", p.LastName),
	)
}

// LookupInstance finds the person with the message's uuid.
func (p *PersonV1) LookupInstance(ctx context.Context, tx *gorm.DB) (any, error) {
	return lookup(ctx, tx, p.UUID)
}

// Save creates or updates the person.
func (p *PersonV1) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	person := existing(instance, p.UUID)
	person.FirstName, person.LastName = p.FirstName, p.LastName
	return tx.WithContext(ctx).Save(person).Error
}

// PersonV2 is version 2 of the "person" message: version 1 and an email.
type PersonV2 struct {
	PersonV1
	Email *string `json:"email"`
}

// Version returns 2.
func (*PersonV2) Version() int { return 2 }

// Validate checks version 1's fields and the email's length.
func (p *PersonV2) Validate() error {
	err := p.PersonV1.Validate()
	if p.Email != nil && utf8.RuneCountInString(*p.Email) > 200 {
		err = errors.Join(err, logpipe.Invalid("email", "at most 200 characters"))
	}
	return err
}

// Save creates or updates the person, email included.
func (p *PersonV2) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	person := existing(instance, p.UUID)
	person.FirstName, person.LastName, person.Email = p.FirstName, p.LastName, p.Email
	return tx.WithContext(ctx).Save(person).Error
}

func lookup(ctx context.Context, tx *gorm.DB, id UUID) (any, error) {
	var person Person
	err := tx.WithContext(ctx).Where("uuid = ?", uuid.UUID(id)).Take(&person).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &person, nil
}

func existing(instance any, id UUID) *Person {
	if p, ok := instance.(*Person); ok && p != nil {
		return p
	}
	return &Person{UUID: uuid.UUID(id)}
}

func required(field string, ok bool) error {
	if !ok {
		return logpipe.Invalid(field, "this field is required")
	}
	return nil
}

func name(field, v string) error {
	switch {
	case v == "":
		return logpipe.Invalid(field, "this field is required and may not be blank")
	case utf8.RuneCountInString(v) > 200:
		return logpipe.Invalid(field, "at most 200 characters")
	}
	return nil
}

// UUID is a uuid.UUID that also decodes from an integer, as Django REST
// Framework's UUIDField accepts one.
type UUID uuid.UUID

// String returns the canonical form.
func (u UUID) String() string { return uuid.UUID(u).String() }

// MarshalText renders the canonical form.
func (u UUID) MarshalText() ([]byte, error) { return uuid.UUID(u).MarshalText() }

// UnmarshalJSON accepts a UUID string or a non-negative integer.
func (u *UUID) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		var i uint64
		if err := json.Unmarshal(b, &i); err != nil {
			return err
		}
		var id uuid.UUID
		for k := 15; k >= 8; k-- {
			id[k] = byte(i)
			i >>= 8
		}
		*u = UUID(id)
		return nil
	}
	var id uuid.UUID
	if err := json.Unmarshal(b, &id); err != nil {
		return err
	}
	*u = UUID(id)
	return nil
}
