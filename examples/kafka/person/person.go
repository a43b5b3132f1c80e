// Package person is the message the Kafka example's two services share:
// version 1 and 2 of "person", and the model the consumer keeps.
package person

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Person is the consumer's model.
type Person struct {
	ID        uint   `gorm:"primaryKey"`
	UUID      string `gorm:"size:36;uniqueIndex"`
	FirstName string `gorm:"size:200"`
	LastName  string `gorm:"size:200"`
	Email     *string
}

// V1 is version 1 of the "person" message, keyed by uuid: every version of
// one person goes to one partition, in order.
type V1 struct {
	UUID      uuid.UUID `json:"uuid"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
}

// MessageType is "person".
func (*V1) MessageType() string { return "person" }

// Version is 1.
func (*V1) Version() int { return 1 }

// KeyField is "uuid".
func (*V1) KeyField() string { return "uuid" }

// Validate rejects a person without a uuid or name.
func (p *V1) Validate() error {
	if p.UUID == uuid.Nil || p.FirstName == "" || p.LastName == "" {
		return errors.New("uuid, first_name and last_name are required")
	}
	return nil
}

// LookupInstance finds the person by uuid.
func (p *V1) LookupInstance(ctx context.Context, tx *gorm.DB) (any, error) {
	var row Person
	err := tx.WithContext(ctx).Where("uuid = ?", p.UUID.String()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &row, err
}

// Save creates or updates the person.
func (p *V1) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	row, _ := instance.(*Person)
	if row == nil {
		row = &Person{UUID: p.UUID.String()}
	}
	row.FirstName, row.LastName = p.FirstName, p.LastName
	return tx.WithContext(ctx).Save(row).Error
}

// V2 adds an email.
type V2 struct {
	V1
	Email *string `json:"email"`
}

// Version is 2.
func (*V2) Version() int { return 2 }

// Save creates or updates the person, email included.
func (p *V2) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	row, _ := instance.(*Person)
	if row == nil {
		row = &Person{UUID: p.UUID.String()}
	}
	row.FirstName, row.LastName, row.Email = p.FirstName, p.LastName, p.Email
	return tx.WithContext(ctx).Save(row).Error
}
