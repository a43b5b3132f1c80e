package interop

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Person is a row of people_person, the table that the Django test project's
// migration creates for its people.Person model (the model of the original's
// README). Go maps Django's table; it never migrates it.
type Person struct {
	ID        int64     `gorm:"column:id;primaryKey"`
	UUID      uuid.UUID `gorm:"column:uuid;type:uuid;uniqueIndex;not null"`
	FirstName string    `gorm:"column:first_name;size:200;not null"`
	LastName  string    `gorm:"column:last_name;size:200;not null"`
	Email     *string   `gorm:"column:email;size:200"`
}

// TableName returns "people_person", Django's table for people.Person.
func (Person) TableName() string { return "people_person" }

// AppliedLog is a row of interop_applied, a table of the Go tests only: the
// Go serializers add one row per applied record, in the record's
// transaction, so a test can tell a record applied twice from one applied
// once.
type AppliedLog struct {
	ID      int64  `gorm:"primaryKey;autoIncrement"`
	UUID    string `gorm:"size:36;not null;index"`
	Version int    `gorm:"not null"`
}

// TableName returns "interop_applied".
func (AppliedLog) TableName() string { return "interop_applied" }

// PersonV1 is version 1 of the "person" message: the Go twin of the Django
// project's PersonSerializerV1 (uuid, first_name, last_name; key uuid).
type PersonV1 struct {
	UUID      uuid.UUID `json:"uuid"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
}

// MessageType returns "person".
func (*PersonV1) MessageType() string { return "person" }

// Version returns 1.
func (*PersonV1) Version() int { return 1 }

// KeyField returns "uuid".
func (*PersonV1) KeyField() string { return "uuid" }

// LookupInstance returns the person with this UUID, or nil.
func (m *PersonV1) LookupInstance(ctx context.Context, tx *gorm.DB) (any, error) {
	return lookupPerson(ctx, tx, m.UUID)
}

// Save creates or updates the person; version 1 leaves the email as it is.
func (m *PersonV1) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	p, err := personOf(instance, m.UUID)
	if err != nil {
		return err
	}
	p.FirstName, p.LastName = m.FirstName, m.LastName
	return savePerson(ctx, tx, p, 1)
}

// PersonV2 is version 2 of the "person" message, with the email (null in
// JSON is nil): the Go twin of PersonSerializerV2.
type PersonV2 struct {
	UUID      uuid.UUID `json:"uuid"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Email     *string   `json:"email"`
}

// MessageType returns "person".
func (*PersonV2) MessageType() string { return "person" }

// Version returns 2.
func (*PersonV2) Version() int { return 2 }

// KeyField returns "uuid".
func (*PersonV2) KeyField() string { return "uuid" }

// LookupInstance returns the person with this UUID, or nil.
func (m *PersonV2) LookupInstance(ctx context.Context, tx *gorm.DB) (any, error) {
	return lookupPerson(ctx, tx, m.UUID)
}

// Save creates or updates the person, email included.
func (m *PersonV2) Save(ctx context.Context, tx *gorm.DB, instance any) error {
	p, err := personOf(instance, m.UUID)
	if err != nil {
		return err
	}
	p.FirstName, p.LastName, p.Email = m.FirstName, m.LastName, m.Email
	return savePerson(ctx, tx, p, 2)
}

func lookupPerson(ctx context.Context, tx *gorm.DB, id uuid.UUID) (any, error) {
	var p Person
	err := tx.WithContext(ctx).Where("uuid = ?", id).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up person %s: %w", id, err)
	}
	return &p, nil
}

func personOf(instance any, id uuid.UUID) (*Person, error) {
	switch p := instance.(type) {
	case nil:
		return &Person{UUID: id}, nil
	case *Person:
		if p == nil {
			return &Person{UUID: id}, nil
		}
		return p, nil
	default:
		return nil, fmt.Errorf("unexpected instance %T", instance)
	}
}

func savePerson(ctx context.Context, tx *gorm.DB, p *Person, version int) error {
	db := tx.WithContext(ctx)
	if err := db.Save(p).Error; err != nil {
		return fmt.Errorf("save person %s: %w", p.UUID, err)
	}
	if err := db.Create(&AppliedLog{UUID: p.UUID.String(), Version: version}).Error; err != nil {
		return fmt.Errorf("log applied person %s: %w", p.UUID, err)
	}
	stopperFrom(ctx).applied()
	return nil
}

// stopper cancels a consumer's context once it has applied n records, to
// stop it in the middle of a topic.
type stopper struct {
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
}

type stopperKey struct{}

// stopAfter returns a context that is cancelled once the Go serializers have
// saved n records under it.
func stopAfter(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	return context.WithValue(ctx, stopperKey{}, &stopper{n: n, cancel: cancel}), cancel
}

func stopperFrom(ctx context.Context) *stopper {
	s, _ := ctx.Value(stopperKey{}).(*stopper)
	return s
}

func (s *stopper) applied() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n--
	if s.n == 0 {
		s.cancel()
	}
}

// fixture returns person number i of seed s exactly as the Django project's
// people.fixtures.person does, so that both sides send the same people.
func fixture(i, seed int) PersonV2 {
	var email *string
	if i%4 != 3 {
		e := fmt.Sprintf("person%d@example.com", i)
		email = &e
	}
	return PersonV2{
		UUID:      uuid.MustParse(fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(seed), i)),
		FirstName: fmt.Sprintf("Given%d", i),
		LastName:  fmt.Sprintf("Family-%d Ünïcødé \"q\" <&>\u2028\\end", i),
		Email:     email,
	}
}

// V1 returns the version 1 message of the same person.
func (m PersonV2) V1() *PersonV1 {
	return &PersonV1{UUID: m.UUID, FirstName: m.FirstName, LastName: m.LastName}
}
