import t from 'tap'
import { childList, childText, parseXmlBody, xmlDocument } from './xml.ts'

t.test('rendering escapes every text node and nests children', async (t) => {
  const xml = xmlDocument('R', [['Key', `a&b<c>"d'\r\ne\u0001`], ['N', 5], ['B', true], ['Skip', undefined], ['List', [['I', '1'], ['I', '2']]], ['Empty', '']])
  t.equal(
    xml,
    '<?xml version="1.0" encoding="UTF-8"?>\n<R xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Key>a&amp;b&lt;c&gt;&quot;d&apos;&#13;\ne&#1;</Key><N>5</N><B>true</B><List><I>1</I><I>2</I></List><Empty></Empty></R>',
  )
  t.equal(xmlDocument('Error', [['Code', 'X']], { namespace: false }), '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>X</Code></Error>')
  t.equal(xmlDocument('R', [['G a="1"', [['ID', 'x']]]]), '<?xml version="1.0" encoding="UTF-8"?>\n<R xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><G a="1"><ID>x</ID></G></R>')
})

t.test('parsing keeps whitespace, decodes entities, lists repeated elements', async (t) => {
  const body = Buffer.from(`<?xml version="1.0"?>\n<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\n <Quiet>true</Quiet>\n <Object><Key> a&amp;b&#13;&#x41;&lt; </Key></Object>\n <Object><Key>x</Key><VersionId>v</VersionId></Object>\n</Delete>`)
  const root = parseXmlBody(body, 'Delete')
  t.equal(childText(root, 'Quiet'), 'true')
  const objects = childList(root, 'Object')
  t.equal(objects.length, 2)
  t.equal(childText(objects[0]!, 'Key'), ' a&b\rA< ')
  t.equal(childText(objects[1]!, 'VersionId'), 'v')
  t.same(childList(parseXmlBody(Buffer.from('<Tagging><TagSet/></Tagging>'), 'Tagging'), 'TagSet'), [''])
})

t.test('malformed bodies are MalformedXML', async (t) => {
  for (const text of ['', '   ', '<a><b></a>', '<Other/>', '<Delete>text</Delete><Delete/>', '<!DOCTYPE x [<!ENTITY a "b">]><Delete>&a;</Delete>', '<Delete><Key>&bogus;</Key></Delete>', '<Delete><Key>a & b</Key></Delete>']) {
    t.throws(() => parseXmlBody(Buffer.from(text), 'Delete'), { code: 'MalformedXML' }, JSON.stringify(text))
  }
  t.throws(() => childText(parseXmlBody(Buffer.from('<Delete><Key>a</Key><Key>b</Key></Delete>'), 'Delete'), 'Key'), { code: 'MalformedXML' })
})
