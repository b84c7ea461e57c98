package rtnl

import "golang.org/x/sys/unix"

// IfInfoMsg is struct ifinfomsg, the header of link messages.
type IfInfoMsg struct {
	Family uint8
	Type   uint16 // ARPHRD_*
	Index  int32
	Flags  uint32 // IFF_*
	Change uint32 // which of Flags a request changes
}

// Append encodes m onto b.
func (m IfInfoMsg) Append(b []byte) []byte {
	b = append(b, m.Family, 0)
	b = ne.AppendUint16(b, m.Type)
	b = ne.AppendUint32(b, uint32(m.Index))
	b = ne.AppendUint32(b, m.Flags)
	return ne.AppendUint32(b, m.Change)
}

// ParseIfInfoMsg returns the header and the attribute bytes after it.
func ParseIfInfoMsg(b []byte) (IfInfoMsg, []byte, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return IfInfoMsg{}, nil, malformed("ifinfomsg of %d bytes", len(b))
	}
	return IfInfoMsg{
		Family: b[0],
		Type:   ne.Uint16(b[2:4]),
		Index:  int32(ne.Uint32(b[4:8])),
		Flags:  ne.Uint32(b[8:12]),
		Change: ne.Uint32(b[12:16]),
	}, b[unix.SizeofIfInfomsg:], nil
}

// IfAddrMsg is struct ifaddrmsg, the header of address messages.
type IfAddrMsg struct {
	Family    uint8
	PrefixLen uint8
	Flags     uint8 // the low IFA_F_* bits; IFA_FLAGS holds them all
	Scope     uint8
	Index     uint32
}

// Append encodes m onto b.
func (m IfAddrMsg) Append(b []byte) []byte {
	b = append(b, m.Family, m.PrefixLen, m.Flags, m.Scope)
	return ne.AppendUint32(b, m.Index)
}

// ParseIfAddrMsg returns the header and the attribute bytes after it.
func ParseIfAddrMsg(b []byte) (IfAddrMsg, []byte, error) {
	if len(b) < unix.SizeofIfAddrmsg {
		return IfAddrMsg{}, nil, malformed("ifaddrmsg of %d bytes", len(b))
	}
	return IfAddrMsg{
		Family:    b[0],
		PrefixLen: b[1],
		Flags:     b[2],
		Scope:     b[3],
		Index:     ne.Uint32(b[4:8]),
	}, b[unix.SizeofIfAddrmsg:], nil
}

// RtMsg is struct rtmsg, the header of route messages.
type RtMsg struct {
	Family   uint8
	DstLen   uint8
	SrcLen   uint8
	Tos      uint8
	Table    uint8 // RTA_TABLE holds ids above 255
	Protocol uint8
	Scope    uint8
	Type     uint8
	Flags    uint32
}

// Append encodes m onto b.
func (m RtMsg) Append(b []byte) []byte {
	b = append(b, m.Family, m.DstLen, m.SrcLen, m.Tos, m.Table, m.Protocol, m.Scope, m.Type)
	return ne.AppendUint32(b, m.Flags)
}

// ParseRtMsg returns the header and the attribute bytes after it.
func ParseRtMsg(b []byte) (RtMsg, []byte, error) {
	if len(b) < unix.SizeofRtMsg {
		return RtMsg{}, nil, malformed("rtmsg of %d bytes", len(b))
	}
	return RtMsg{
		Family:   b[0],
		DstLen:   b[1],
		SrcLen:   b[2],
		Tos:      b[3],
		Table:    b[4],
		Protocol: b[5],
		Scope:    b[6],
		Type:     b[7],
		Flags:    ne.Uint32(b[8:12]),
	}, b[unix.SizeofRtMsg:], nil
}
