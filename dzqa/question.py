"""Stage 5a: understand a question before it is searched: what it asks for and about whom.

Entry point: :class:`Reader` (built once per index) and its :meth:`Reader.read`, which turns what the user
typed into a :class:`Reading`: the normalised text, the clause that carries the question inside a long
story, words bridged to the report's vocabulary by sound (voice and pinyin input: 高贴 → 高铁), the answer
type asked for (a quantity, money, a date, a place, a person, a list, a purpose, yes/no), places named
other than the corpus's own city, and whether the text tries to instruct the assistant.

Nothing here is keyed to particular questions: the patterns are the ordinary Chinese and English ways of
asking for each answer type, the places come from the national list of administrative divisions shipped
by ``cpca``, and the sound bridge only maps a word the report does not contain onto a report word of the
same pinyin.
"""

from __future__ import annotations

import csv
from collections import Counter
import dataclasses
import re
from dataclasses import dataclass, field
from functools import lru_cache
import importlib.util
from pathlib import Path
from typing import Callable, Collection, Iterable, Literal, Sequence

from .synonyms import FRAME_WORDS, EnglishBridge, SynonymBridge
from .text import STOPWORDS

_ALL_CJK_WORD = re.compile(r"[\u3400-\u9fff]+")
#: one-character stopwords that jieba glues to a word (那水, 要建, 雄安有) and that may be split off again;
#: 市 is a stopword of the index (德州市 everywhere) but the first half of words (市长, 市区)
GLUE_CHARS = frozenset(w for w in STOPWORDS if len(w) == 1 and w != "市")

AnswerType = Literal["phone", "money", "date", "address", "person", "mine", "list", "purpose", "quantity",
                     "define", "how", "yesno", "breakdown", "procedure", "criteria", "current", "duration", "span",
                     "subsidy", "size", "other"]

#: checked in this order: the first that matches is what the question asks for
ASK_PATTERNS: tuple[tuple[AnswerType, re.Pattern[str]], ...] = tuple((t, re.compile(p, re.I)) for t, p in (
    ("phone", r"电话|号码|热线|联系方式|怎么联系|phone|telephone|contact number"),
    ("money", r"多少钱|几块钱|啥价|什么价|(?<!消费)价格|价钱|票价|门票|收费|费用|学费|保教费|花多少|多少元|给多少钱|补贴多少|补助多少|"
              r"补多少|罚多少|罚款|多少补贴|多少补助|投资(有|是|为|规模)?(多少|多大)|投了多少|总投资额?(是|有|为|达|约)?(多少|多大|几)|投资总额(是|有|为)?(多少|多大)|总投资额?$|投资总额$|多少亿|交多少|缴多少|减免多少|[减免]多少钱|"
              r"[水电气暖]费|物业费|停车费|(一|每)平(米|方米?)给?多少|(?<!consumer )price|cost|fee|dollar|\byuan\b|\brmb\b|"
              r"how much money|收不收(钱|费)|(要|得|需要)?(自己|个人)?(掏|出)(钱|腰包)|要不要(钱|花钱|收费)|免不免费|是不是免费|免费吗|"
              r"(工资|薪水|薪资|月薪|年薪|待遇)(是|有|能|给|开)?(多少|几)|\bsalar(y|ies)\b|\bwages?\b"),
    ("date", r"什么时候|啥时候|啥时|哪天|几月|几号|何时|哪一天|哪一?年(?![高低多少大小快慢更])|具体时间|什么时间|多久|多长时间|日期|时间表|"
             r"开工时间|通车时间|(报名|开放|开始|结束|申请|办理|考试|招聘|开学|面试)的?时间|截止|几点|开门时间|营业时间|when\b|what date|what time|how long|opening hours|\bopen\b"),
    # 在哪办公, 去哪个医院; not 在哪些方面, 在哪次会上, 在哪年, 做到哪三个, 提升到哪个水平 (a list, a time, a count)
    ("address", r"在哪(?![些几次年届一二三四五六七八九十两\d]|个?(方面|领域|环节|阶段|层面|水平|程度))|哪里|哪儿|"
                r"(去|到)哪(?![几些年届一二三四五六七八九十两\d]|个?(方面|领域|环节|阶段|层面|水平|程度))|"
                r"哪条街|哪条路|哪个位置|什么地方|哪些(地方(?!.{0,3}(下功夫|发力|使劲|努力|着力|用力|改进|提升|加强))|区域|地段|路段|街道|位置)|(区域|地段|路段)(是|在)(哪|什么)|"
                r"啥地方|什么位置|地址|位置在|地点|位于哪|建在哪|(放|落|设|建)在.{0,4}哪个(县(?!域)|区(?!域)|镇|乡|村|街道|社区)|"
                r"where\b|address|location"),
    ("person", r"负责人|谁负责|是谁|哪位|谁来|谁作|谁做|谁是|归谁|谁管(?!护)|哪个部门|哪个单位负责|找谁|向谁|"
               r"(?<=局长|市长|县长|区长|镇长|村长|校长|院长|书记|主任|老板)(叫|是)(啥|什么)|姓什么|who\b"),
    ("purpose", r"为什么|为啥|为何|为嘛|为了啥|为了什么|为了干(嘛|啥|什么)|为的是|干啥用|干什么用|(?<!项)目的|意义何在|有啥用|有什么用|图啥|图的是|图什么|"
                r"想达到|达到什么效果|what for|why\b|purpose|aim\b|(干成|做成|办成|搞成|弄成|变成)(个)?(啥|什么)|(倒逼|带动)(啥|什么)|"
                r"(打造|建设|建)成(啥|什么)|成为(啥|什么)|要打造(啥|什么)|定位是(啥|什么)|^(那|那么)?(它的|这个的|其)?目标是(啥|什么)$|(做到|实现)(啥|什么)(样|程度)?$"),
    ("list", r"(另外|其他|其它|其余|剩下|剩余)的?(那)?([二三四五六七八九十两]|\d+)(个|项|条|样|件)|哪些|哪几|有哪|都有啥|都有什么|包括什么|包括啥|包括哪|包含|哪([二三四五六七八九十两][一二三四五六七八九十]*|\d+)"
             r"(个|项|条|大|类|件|样|种|块|所|家|座|处|方面|区)|(名单|清单)(是|有|包括|都)?(啥|什么|哪)|(有|给).{0,2}(名单|清单)|(名单|清单).{0,4}(给|发|列|提供)|列(个|一个|出)?.{0,3}(清单|名单)|(清单|名单)有(吗|没有)|"
             r"都是(啥|什么|哪)|分别是(啥|什么|哪)|"
             r"列举|具体.{0,3}(有|提到|是)|which\b|what are the (two|three|four|five|six|seven|eight|nine|ten|\d+)\b|"
             r"list\b|举(几|一|两)?个?例子|举例|for example|examples?\b"),  # not "what are the income growth targets": a figure
    ("quantity", r"多少|几个|几所|几条|几万|几家|几项|几成|(?<![哪这那好十前头])几(块|大块|大类|类|方面|件|批|座|处|种)|多大|多高|多长|多快|比例|百分|增长|幅度|目标|[^效]率|"
                 r"how many|how much|percent|rate\b|target"),
    # what a term means ("三线一单是什么意思"): a work report names its programmes without defining them
    ("define", r"什么意思|啥意思|是指什么|是指啥|指的是什么|指的是啥|指的啥|指啥|指什么|什么叫|含义|定义是|"
               r"what does .{1,40} mean|meaning of|what is meant by"),
    # how something is done: the topic sentence and what follows it ("现代高效农业咋发展？")
    ("how", r"(咋|怎么|怎样|如何)个?(搞|弄|办|整|发展|推进|做|干|抓|落实|建设|提升|打造)|"
            r"有(啥|什么)?(举措|措施|部署|招)|how (will|does|do|is|are|can)\b"),
    ("yesno", r"吗|[不没][？?]?$|管不管|给不给|让不让|会不会|能不能|有没有|是否|是不是|还.{0,4}[不没]|中不中|行不行|"
              r"^(is|are|will|does|do|can|has)\b"),
    # whether the asker's own village, street or school is included: a report names no such lists (last, so
    # that the question keeps its own type — a yes/no — and only gains this detail)
    ("mine", r"(轮上|轮到|轮得上|排上|有份)|(哪些|哪几个|哪个)(小区|社区|村庄?|庄|街道|乡镇)"
             r"(?=$|[^\u4e00-\u9fff]|附近|里|在|能|会|有|的|要|可以|呢|吗|啊|了)|"
             # whether the asker's own place is among those a measure picks, or what is built next to it; not whether
             # the measure is taken there ("俺们村改厕今年还搞吗", "俺村的路修不修": the report's measure answers)
             r"(俺|我|咱)(们|家)?(这|那)?个?([\u4e00-\u9fff]{2}(?=小区|社区|村))?(村|庄|小区|社区|街道|镇|乡|县|区|家门口|片区|"
             r"那条路|那条街)(旁边|附近|边上|跟前|周边|[^，,。；;？?]{0,12}(在不在|算不算|属不属于|包不包括|有没有份|有份|轮得?[到上]|"
             r"排[得上]|名单))|(有没有|是不是|会不会|能不能)(在|到|给|轮到)?(俺|我|咱)(们|家)?(这|那)?个?(村|庄|小区|社区|街道|镇|乡|"
             r"家门口|片区)|my (village|town|street|county|district|neighbou?rhood)"),
    # how a citizen applies, registers or signs up: a work report states programmes, not procedures
    ("procedure", r"(怎么|如何|咋|怎样|去哪|到哪|在哪)(样)?(才能|可以|能)?(报名|申请|办理|预约|缴费|交费|申报|登记|领取|"
                  r"报考|参保|开户|挂号|填写|填报|注册|下载|填)|(报名|申请|办理|申报|报考)(的)?(方式|流程|程序|手续|材料|渠道|入口|网址)|"
                  r"(需要|要)(带|准备|交)?(什么|啥|哪些)(材料|手续|证件)|"
                  r"(怎么|如何|咋)(交|缴)(?![通流易付])|(报名|申请|办理|备案|登记|预约|缴费)[^，,。？?]{0,8}(怎么|咋|如何)(办|弄|操作)$|how (do|can|could|should) (i|we|one) (apply|register|sign up|enrol|enroll)|application (process|form)"),
    # how long something lasts or takes: a work report dates its meeting, not how many days it sits
    ("duration", r"(?<![前这那近过])(几|多少)天(?![然津])|(几|多少)个月|how many (days|months)"),
    # how many years a programme runs or a contract binds ("搞几年", "签了几年"): carried by "五年行动"
    ("span", r"(签|干|搞|用|建|管|持续|期限|合作)了?(几|多少)年(?![级轻底内初前度终])|how many years"),
    # who qualifies, by what standard, with what title: a work report names programmes, not their rules
    ("criteria", r"(报名|报考|申请|参加|享受|领取|入学|入园|补贴|救助)的?(条件|资格|门槛)|(要|需要|有)(啥|什么|哪些)(条件|资格)|"
                 r"(条件|资格|门槛)是(啥|什么)|标准(咋|怎么|如何)(算|定)|标准是多少|(多少|几).{0,6}才(算|叫|能算)(?!达标|完成|合格)|(补贴|补助|补偿|赔偿|收费)的?标准$|"
                 r"(有|给)(啥|什么|哪些)(税收|税费)?优惠|(多大|什么)(年龄|岁数)|多大岁数|年龄(限制|要求)|(要|需要|得|有)(啥|什么|多高的?)学历|学历(要求|门槛|限制)|(什么|啥)职务|职务是|"
                 r"(撤并|划分|评定|认定|录取|补贴|补助|收费|分配)的?标准(是|有)?(啥|什么)|标准是(啥|什么)|(享受|申请)(啥|什么|哪些)?优惠|"
                 r"(有|给)(啥|什么)奖励|(怎么|咋|如何)(补偿|赔偿|赔)|(补偿|赔偿)(多少|几)|(怎么|咋|如何)(分配|划分|(分|划)(?=[,，?？]|$))|摇号|eligib|qualif"),
    # the figure as it stands now, not the target: a work report states what is to be reached
    ("current", r"(现在|目前|眼下|当前)(是|有|已经|已|达到|实际)?多少|已经(达到|完成|建成|有)了?多少|"
                r"(建|进展|发展|推进|搞)到(什么|啥|哪)(个)?(程度|地步|阶段|一步)|"
                r"(现在|目前|眼下|当前)[^要将计划,，]{0,6}(多少|几)了|(已经|已)(到|达到)?多少了|"
                r"(签|签约|落地|引进|招来|建成|完成)了多少|(进度|进展)(怎么样|咋样|如何|到哪)"),
    # whether something is subsidised at all ("淘汰了给补钱不"): only a sentence naming a subsidy says so
    ("subsidy", r"补钱|给钱|(有|给)(没有)?补贴[吗不没]?|补贴[吗不没]|有没有补贴|给不给补|补不补"),
    # where a site is chosen and how large it is: a work report names projects, not their sites
    ("size", r"占地(面积)?(多大|多少|有多大)|面积(有)?多大|多大(的)?面积|选址"),  # not 赤字规模多大: an amount
    # a figure broken down by county, district or school: a work report gives the city's totals
    ("breakdown", r"(各个?|每个)(县市区|县区|县市|县(?!域)|区(?!域)|乡镇|镇|街道|村|学校|医院).{0,10}(分别|各|多少|几)|"
                  r"(县市区|县区|乡镇|街道|各县|各区).{0,6}分别(是|有)?(多少|几)|"
                  r"(我们|俺们|咱们|我|俺|咱)(这个?|那个?)?(县|区)(今年)?.{0,8}(多少|几)|each (county|district|town|school)"),
))
#: what a question may ask that the report may not carry (the partial reply names it)
DetailType = Literal["phone", "money", "date", "address", "person", "mine", "define", "breakdown", "procedure",
                     "size", "subsidy", "criteria", "current", "duration", "span", "thing"]
#: detail types a report may simply not give; when no candidate sentence carries one, the reply is partial
DETAIL_TYPES: tuple[DetailType, ...] = ("phone", "money", "date", "address", "person", "mine", "define", "breakdown",
                                        "procedure", "size", "subsidy", "criteria", "current", "duration", "span",
                                        "thing")
#: what a sentence must contain to carry each detail type
CARRIES: dict[str, re.Pattern[str]] = {
    "phone": re.compile(r"\d{3,4}-?\d{7,8}|(?<!\d)\d{5}(?!\d)热线|电话"),
    "money": re.compile(r"\d+(\.\d+)?\s*(万|亿|万亿)?元|免费|不收费"),  # "免费接种" answers whether it costs
    "date": re.compile(r"\d{1,2}月(\d{1,2}日)?|\d{4}年|年底|年内|上半年|下半年|月底"),
    "address": re.compile(r"\d+号|街道|门牌"),  # not 路\d: "农村公路600公里" gives no address
    # a named official; a body set up for it (组建市物流和会展业发展中心), responsibility laid on someone (压实河湖长责任)
    # or the mechanism that says who looks after it (管护机制)
    "person": re.compile(r"[\u4e00-\u9fff]{2,3}(代表|同志|书记|市长|主任)|(组建|成立|设立)[^,，;；。]{0,14}(中心|局|委员会|办公室|"
                         r"机构|专班|公司|集团)|(压实|落实|明确)[^,，;；。]{0,8}责任|[河湖路林田]长制|河湖长|(管护|运维|维护)机制"),
    "mine": re.compile(r"(?!)"),  # a work report lists no villages, streets or schools one by one
    "define": re.compile(r"(?<![立随旋])即(?![将使便时刻])|是指|指的是|也就是|于一体"),  # a definition (a list question is answered by its items)
    "breakdown": re.compile(r"分别"),  # "城乡居民人均可支配收入分别增长6.5%和7%"
    "procedure": re.compile(r"(?!)"),  # a work report gives no application procedures
    "criteria": re.compile(r"(条件|标准|资格)(是|为)[:：]?|年满\d|周岁"),
    "subsidy": re.compile(r"补贴|补助|奖补|补偿"),
    "size": re.compile(r"\d+(\.\d+)?\s*(亩|平方米|平方公里|万平方米|公顷)"),
    "duration": re.compile(r"(\d+|[一二三四五六七八九十两]+)(天|个月)(?!津)"),
    "span": re.compile(r"((?<!\d)\d{1,2}|[一二三四五六七八九十两]+)年(?![级度])"),
    "current": re.compile(r"已经|已达|达到了|实现了|完成了|增长了|下降了|提高了|过去一年|去年"),  # what was reached
    "thing": re.compile(r"(?!)"),  # the asked thing is a word the report never uses (床位, 工资, 车道)
}
#: how a partial reply names what the report does not give (a fixed vocabulary, never the user's words)
DETAIL_WORDS: dict[str, str] = {
    "phone": "联系电话", "money": "具体的价格或金额", "date": "具体的时间", "address": "具体的地点或地址",
    "person": "具体的负责人",
    "mine": "具体包括哪些村镇、街道或学校",
    "define": "这一说法的具体含义",
    "breakdown": "分到各县市区的具体数字",
    "procedure": "具体的办理方式",
    "criteria": "具体的条件或标准",
    "current": "目前的实际数字",
    "duration": "具体的时长",
    "span": "具体的时长",
    "size": "具体的选址或面积",
    "subsidy": "相关的补贴",
    "thing": "您问的具体内容",
}
#: the thing a question asks the amount of: right after the question word ("有多少张床位", "改成几车道"), or
#: right before it when a verb ties them ("缴费基数是多少", "工资涨多少"); a bare verb before the question word
#: ("招多少", "修多少") names no thing
_CLASSIFIERS = "个张条项所家座间种类名位批辆台套亩块样"
_THING_AFTER = re.compile(rf"(?:多少|几)([{_CLASSIFIERS}]|人(?!次|数))?([\u4e00-\u9fff]{{2,4}})$")
_THING_BEFORE = re.compile(rf"([\u4e00-\u9fff]{{2,}}?)(?:一共|总共|大概|大约)?(?:能|会|要|可以|可|将|还)?(?:是|有|为|涨|增加|提高|上调|降低|定的|定了|定在)"
                           rf"(?:是)?(?:多少|几)[{_CLASSIFIERS}元人万钱]?$")
#: what a yes/no asks of a measure, not of a thing: a limit ("物价上涨有没有个底线": the report's cap answers it),
#: a likeness ("跟市里能一样吗") or news of it ("有信儿没")
NOT_A_THING_ASKED = frozenset("底线 上限 下限 门槛 限制 限度 红线 标准 要求 规定 一样 相同 一致 差不多 信儿 音信 下文 眉目 "
                              "进展 盼头 动作 去处".split())
#: degree words: what follows them is said of the topic ("更方便吗", "太难了吗"), not a thing
_BEFORE_PREDICATE = frozenset("更 很 太 够 挺 最 比较 越来越 特别 非常".split())
#: an open question word: a yes/no ending on it ("有啥动作吗") asks what
_OPEN_ASKED = re.compile(r"啥|什么|哪|怎|咋")
#: the thing a yes/no question asks about: the last word before 吗/不/没 ("招研究生吗") or all after 有没有 ("有没有地铁")
_YES_NO_END = re.compile(r"(?:吗|[不没]|没有)$")
_HAS_NO = re.compile(r"(?:有没有|有无|有木有)(?=[\u4e00-\u9fff]{2,6}$)")
#: the erhua 儿 after a measure word ("几块儿", "一点儿"): no thing of its own
_ERHUA = re.compile("(?<=[块点事个])儿$")
_TIME_WORDS = re.compile(r"今年|明年|去年|每年|每月|一个月|一年|现在|目前|大概|大约")
#: a question asking what a term is ("“三线一单”是什么", "春笋行动是干啥的")
WHAT_IS = re.compile(r"(具体)?(是啥|是什么|是个啥|是干啥的|是干嘛的|是干什么的|是啥玩意儿?|是个什么)(东西|玩意儿?)?$")
#: what follows a quoted programme name when its content is asked: a short noun (规划, 工程), then 是啥/有哪些/指什么
_TERM_ASKED = re.compile(r"^[”\"' ]*(?P<noun>[\u4e00-\u9fff]{0,3}?)的?(具体内容|具体|到底|究竟|都|又)?"
                         r"((是|指的是|指|包括|包含|都有)(啥|什么|嘛|哪)|(?<=到底|究竟)哪)"
                         r"(?!.{0,2}(说法|安排|打算|要求|政策|措施|举措|部署|计划|进展|情况|进度|效果|成效|目标|任务))")
#: what may stand between a quoted name and 是什么 when its content is asked (规划, 工程); not an attribute of it
#: ("春笋行动的目标是什么" asks the target, "一区多园是啥情况" what is happening: the report may say those)
_TERM_ATTRIBUTES = re.compile(r"目标|任务|情况|进展|时间|标准|要求|作用|意义|效果|成效|重点|措施|安排|政策|进度|主体|对象")
#: a county named by its short form (禹城, 平原) is the subject only when a suffix or the question goes on after it
_SHORT_PLACE_END = re.compile(r"^(县|市|区|的|今年|这|那|有|要|能|[,，?？]|$)")
#: nouns that only count what the word before them names (就业岗位, 招生名额)
COUNT_NOUNS = frozenset("岗位 名额 人数 数量 个数 总数 数目 总量".split())
#: heads that name no particular thing (这事儿是啥情况, 有啥说法)
VAGUE_THINGS = frozenset("例子 东西 事儿 事情 情况 样子 意思 名堂 玩意 说法 动静 门道 消息 问题 好处 用处 作用 意义 区别 "
                          "关系 变化 进展 特点 亮点 时候 时间 地方 办法 法子 以下 以上 以内 左右 上下 进来 出来 "
                          "准备 预计 计划 打算 争取 力争 希望 估计 人次 人数 增速 增幅 涨幅 速度 幅度 百分点".split())

_INJECTION = re.compile(
    r"ignore (all |any |the |this |your )?(previous|prior|above|earlier|report|instructions|rules|context)|"
    r"disregard (all |the )?(previous|above|instructions)|(reply|respond|answer) only with\b|say exactly[:：\"'“]|"
    r"system prompt|jailbreak|you are now|pretend (to be|you)|act as|developer mode|"
    r"(忽略|无视|忘掉|忘记|不要管|别管|不用管|不要参考|别参考|抛开|撇开).{0,4}(以上|之前|前面|上面|上述|所有|指令|"
    r"规则|设定|报告|原文|资料|内容|材料)|(直接|只)(回答|回复|输出|说)[:：]|你现在是|现在你是|你现在扮演|"
    r"扮演一个|假装你|系统提示|提示词|越狱|照我说的|跟我重复|重复我说的|请直接回答说|就说|输出以下|"
    # claimed authority, switching the citations off, asking for secrets or for an invented answer
    r"系统(通知|指令|消息|命令)|管理员(已经?)?(授权|允许|要求)|(关闭|取消|解除|绕过).{0,2}(引用|过滤|审查)|"
    r"(安全|引用|内容)限制(已经?)?(解除|关闭|取消)|(内部|系统)(配置|设置|指令)|密钥|api.?key|"
    r"(不用|不要|别|无需)(再)?引用|(随便|瞎|自己|帮我)编(?!制|号|码|排)|编一[个条段篇](?![^，,。？?说假谣骗]{0,14}(规划|方案|计划|清单|目录))|"
    r"(你|ai|助手).{0,6}(不受(任何)?限制|没有任何限制)|管理员(身份|模式|权限)", re.I)
#: a clause that asks: the question inside a long story is the last clause holding one of these
_ASKS = re.compile(r"[？?]|吗|呢|啥|什么|怎么|咋|多少|哪|几|是否|([\u4e00-\u9fff])[没不]\1|为何|为啥|"
                   r"\b(what|how|why|when|where|which|who|is|are|does|do|can)\b", re.I)
_CLAUSES = re.compile(r"[^，,。！？!?；;…\n]+[，,。！？!?；;…\n]*")
STORY_MIN_CHARS = 24
#: an asking clause that points back into its story ("对这种车啥政策", "报告里提没提这方面政策", "听说要改造，报告里
#:提没提"): the story says what it asks about, so the whole message is the question
_BACK_REFERENCE = re.compile(r"这(?:种|类|样的?|方面|块|些(?!年)|事|件事|问题|情况)|这个(?:事|问题|情况)|此类|上述|"
                             r"([提说讲])没\1|(?<![听据])(?:提|说|讲)到?了?没|有没有(?:提|说|讲)")
CORE_MIN_CHARS = 10
#: the shortest asking clause read on its own when a story around it is refused (政府管不管扬尘)
ASKING_MIN_CHARS = 5
GENERIC_PLACES = frozenset({"城区", "郊区", "矿区", "市辖区", "市辖", "新区", "县", "市", "开发区", "高新区"})
#: a place named after one of these is a relation of the home city ("德州和济南", "融入省会济南"), not its subject
_RELATION = re.compile(r"和|与|跟|同|对接|融入|到|去|往|至|连接|通往|\b(and|with|to|between|from|into)\s+$")
_LATIN = re.compile(r"[a-z]")
#: a pinyin name shorter than this could be an English word (xian, ali): not recognised
LATIN_MIN_LETTERS = 5
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "地区", "新区", "省", "市",
             "区", "县", "盟", "旗")


@dataclass(frozen=True)
class Reading:
    """A question read once; every later stage uses this instead of looking at the raw text again."""

    text: str  # normalised question
    core: str  # the clause(s) that ask, for a long story; else ``text``
    bridged: tuple[tuple[str, str], ...]  # (word as typed, report word of the same sound or meaning)
    asks: AnswerType
    details: tuple[str, ...]  # every detail type asked for (a question may ask where and when at once)
    other_places: tuple[str, ...]  # places named that are neither the home city, its districts, nor related
    home_named: bool  # the question names the corpus's own city (or one of its districts)
    injection: bool
    #: the words asking for a detail a report does not give (票价, 多少钱, 几点), when the question also names a
    #: report topic of its own: they tell what is asked, not what about
    asking: tuple[str, ...] = ()
    #: whether a year's target ("target") or what it achieved ("result") is asked, when several reports tell
    #: them apart (the engine knows); "" when it does not matter
    tense: str = ""

    @property
    def search_text(self) -> str:
        """What retrieval sees: the core, with the report's words for bridged words appended."""
        extra = " ".join(dict.fromkeys(w for _, w in self.bridged if w not in self.core))
        return f"{self.core} {extra}" if extra else self.core

    @property
    def detail_spans(self) -> tuple[str, ...]:
        """The words of the asking part that ask for its details ("哪天" in "哪天开的会")."""
        return detail_spans(self.core, self.details)

    @property
    def bridged_words(self) -> frozenset[str]:
        """Words the report lacks that do not count as missing: the typed words that were bridged onto report
        words, the question's frame words (有啥安排, 有什么措施) that name no topic, and the words asking for a
        detail a report does not give (``asking``)."""
        return frozenset(typed for typed, _ in self.bridged) | frozenset(w for w in FRAME_WORDS if w in self.core) \
            | frozenset(self.asking)


def detail_spans(core: str, details: Sequence[str], *, overlapping: bool = False) -> tuple[str, ...]:
    """The words of ``core`` (two characters or more) that ask for one of ``details``; ``overlapping``: also
    those starting inside another ("建在哪" and "哪些地方" of "都建在哪些地方")."""
    if overlapping:
        found: Iterable[re.Match[str] | None] = (p.match(core, i) for t, p in ASK_PATTERNS if t in details
                                                 for i in range(len(core)))
    else:
        found = (m for t, p in ASK_PATTERNS if t in details for m in p.finditer(core))
    return tuple(dict.fromkeys(m.group(0) for m in found if m is not None and len(m.group(0)) >= 2))


def without(text: str, spans: Iterable[str]) -> str:
    """``text`` with each of ``spans`` blanked out, the longest first (so a shorter one inside it goes with it)."""
    for span in sorted(spans, key=len, reverse=True):
        text = text.replace(span, " ")
    return text


def answer_type(text: str) -> AnswerType:
    """What a (normalised) question asks for."""
    for kind, pattern in ASK_PATTERNS:
        if pattern.search(text):
            return kind
    return "other"


def question_core(text: str, topical: Callable[[str], bool] | None = None, *, asked_at_end: bool = False) -> str:
    """The part of a long message that asks (``我跑了十几年运输……报告里对国三柴油货车是怎么说的？`` → its
    last asking clause, with the clauses before it until it is long enough to stand alone and, with
    ``topical``, until it names a topic: "俺这车还能跑不？报告里咋说的？" says what about only in the story)."""
    if len(text) < STORY_MIN_CHARS:
        return text
    clauses = [m.group(0) for m in _CLAUSES.finditer(text)]
    # ``asked_at_end``: the question ended with a "？" that normalising stripped, so its last clause asks
    # ("听说东边要有新医院了？") unless an earlier clause does
    asking = [i for i, c in enumerate(clauses) if _ASKS.search(c)] or ([len(clauses) - 1] if asked_at_end else [])
    if not clauses or not asking:
        return text
    first = last = asking[-1]
    # a question spread over two clauses ("今年的目标,能到多少？"): keep the asking clauses that end it
    while first > 0 and first - 1 in asking and last - first < 2:
        first -= 1
    core = "".join(clauses[first:])
    if first > 0 and _BACK_REFERENCE.search(core) and topical is not None \
            and not topical(_TERM_ATTRIBUTES.sub(" ", _BACK_REFERENCE.sub(" ", core))):
        return text  # ("这种脱贫户", "大班额这事", "实体企业这块" name it themselves)
    while first > 0 and (len(core) < CORE_MIN_CHARS or (topical is not None and not topical(core))):
        first -= 1
        core = clauses[first] + core
    return core.strip(" ，,。")


@dataclass(frozen=True)
class Places:
    """Administrative names from cpca's national list: the home city's own, and every other."""

    home: frozenset[str]
    others: frozenset[str]
    pattern: re.Pattern[str] | None
    #: province- and city-level names as English questions write them (pinyin: "jinan" → 济南)
    latin: dict[str, str] = field(default_factory=dict)
    latin_pattern: re.Pattern[str] | None = None
    #: the home province's capital, which a report calls 省会 ("融入省会经济圈")
    capital: str = ""

    def named(self, text: str) -> list[tuple[str, str]]:
        """(name, what stands right before it) for every place named in ``text``, in Chinese or in pinyin."""
        found = [(m.group(0), text[max(0, m.start() - 4):m.start()])
                 for m in (self.pattern.finditer(text) if self.pattern is not None else ())]
        if self.latin_pattern is not None and _LATIN.search(text):
            found += [(self.latin[m.group(0)], text[max(0, m.start() - 9):m.start()])
                      for m in self.latin_pattern.finditer(text)]
        return found


def _short(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _cpca_table() -> Path:
    """cpca's data file, found without importing cpca (its import loads pandas and pkg_resources)."""
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the cpca package is missing; run `make install`")
    return Path(list(spec.submodule_search_locations)[0]) / "resources" / "adcodes.csv"


@lru_cache(maxsize=8)
def places(home_city: str) -> Places:
    """Province- and city-level names (full and short: 聊城市, 聊城), county-level full names; the home
    city's own districts count as home."""
    rows: list[tuple[str, str]] = []
    with _cpca_table().open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows.append((row["adcode"], row["name"]))
    home_code = next((code[:4] for code, name in rows if home_city and name == home_city
                      and code[4:6] == "00"), None)
    home: set[str] = set()
    others: set[str] = set()
    for code, name in rows:
        level_city = code[4:6] == "00"  # a province (xx0000) or a city (xxxx00)
        # county-level names only in full and from three characters (和县 would catch "城市管理和县域经济")
        names = {name, _short(name)} if level_city else {name} | {_short(name)}
        names = {n for n in names if len(n) >= (2 if level_city else 3)}
        if home_code and code.startswith(home_code):
            home |= names | {_short(name)}
        else:
            others |= names
    if home_city:
        home |= {home_city, _short(home_city)}
    # the home province is neither (德州 is in 山东: "全省" plans concern it) and generic district names
    # (城区, 郊区, 市辖区) are ordinary words
    province = {name for code, name in rows if home_code and code == home_code[:2] + "0000000000"}
    others -= home | province | {_short(n) for n in province} | GENERIC_PLACES
    alternation = "|".join(sorted((re.escape(n) for n in others | home), key=len, reverse=True))
    from pypinyin import lazy_pinyin

    latin: dict[str, str] = {}
    # home names first, so that a pinyin shared with another place (rare) counts as home
    ambiguous: set[str] = set()
    for name in sorted(home, key=lambda n: (len(n), n)) + sorted(others, key=lambda n: (len(n), n)):
        sound = "".join(lazy_pinyin(name))
        if len(name) == 2 and len(sound) >= LATIN_MIN_LETTERS and sound.isascii() and sound.isalpha():
            if sound in latin and latin[sound] != name and latin[sound] not in home:
                ambiguous.add(sound)  # suzhou: 苏州 or 宿州 — which one the asker means is not known
            latin.setdefault(sound, name)
    for sound in ambiguous:
        del latin[sound]
    latin_alt = "|".join(sorted(map(re.escape, latin), key=len, reverse=True))
    # the home province's capital: its prefecture comes first in the province's codes (济南 370100 in 山东)
    capital = next((_short(name) for code, name in rows if home_code and code == home_code[:2] + "0100000000"
                    and not name.startswith("市辖")), "")  # a municipality's first code is its 市辖区
    return Places(frozenset(home), frozenset(others), re.compile(alternation) if alternation else None,
                  latin, re.compile(rf"\b({latin_alt})\b") if latin_alt else None, capital)


class SoundBridge:
    """Words of a question that the report does not contain, mapped onto report words of the same pinyin
    (tones ignored): voice and pinyin input put 高贴 for 高铁, 探达峰 for 碳达峰, 春损 for 春笋. A candidate runs
    from one word boundary of the question to another (jieba's cut), so 最近出新歌 never yields 近出 → 进出."""

    def __init__(self, vocabulary: Iterable[str], corpus_text: str, cut: Callable[[str], list[str]]) -> None:
        from pypinyin import lazy_pinyin

        self._pinyin = lazy_pinyin
        self._cut = cut
        self.corpus = corpus_text
        self.by_sound: dict[tuple[str, ...], str] = {}
        for word in sorted(set(vocabulary), key=lambda w: (len(w), w)):
            if 2 <= len(word) <= 4 and _CJK_RUN.fullmatch(word):
                self.by_sound.setdefault(tuple(lazy_pinyin(word)), word)

    def sounds_known(self, word: str, within: str | None = None) -> bool:
        """Whether a report word sounds like ``word`` (``within``: one that occurs in this text)."""
        known = self.by_sound.get(tuple(self._pinyin(word)))
        return known is not None and (within is None or known in within)

    def __call__(self, text: str) -> tuple[tuple[str, str], ...]:
        found: list[tuple[str, str]] = []
        for run in _CJK_RUN.findall(text):
            sounds = self._pinyin(run)
            bounds, at = {0}, 0
            for word in self._cut(run):
                at += len(word)
                bounds.add(at)
            i = 0
            while i < len(run) - 1:
                if i not in bounds:
                    i += 1
                    continue
                for n in (4, 3, 2):  # the longest same-sounding report word starting here
                    piece = run[i:i + n]
                    if len(piece) < n or piece in self.corpus or i + n not in bounds \
                            or piece[0] in GLUE_CHARS or piece[-1] in GLUE_CHARS:
                        continue  # a piece opening or closing on a function word ("是第", "市里") is no misheard 湿地/实力
                    word = self.by_sound.get(tuple(sounds[i:i + n]))
                    if word and word != piece:
                        found.append((piece, word))
                        i += n - 1
                        break
                i += 1
        return tuple(found)


#: report words a city named by its first character is bridged onto, at most
MAX_PLACE_COMPOUNDS = 2
#: jieba's dictionary count above which a word is common in its own right (城建 127, 清廉 103; 柴油车 8)
COMMON_WORD_FREQUENCY = 100
#: a two-character word with an aspect particle inside it (脱了贫, 招过商)
_SPLIT_WORD = re.compile(r"([\u4e00-\u9fff])(了|过)([\u4e00-\u9fff])")
#: a last character that names a system built on the word before it (河长制, 林长制)
SYSTEM_SUFFIXES = frozenset("制")
#: characters cut on each side of a candidate to see whether it is made of whole report words
ABBREVIATION_CONTEXT = 8
_NUMERAL_CHARS = frozenset("零一二三四五六七八九十两百千万亿第")
#: characters read after a candidate's start per character of a shortening by initials
INITIALS_SPAN = 6
#: the longest word a shortening by initials stands for a character of (固定资产 → 固; not 中药控股集团 → 中)
INITIALS_WORD_MAX = 4


class AbbreviationBridge:
    """A question word the report lacks that is the report's word with one or two characters left out, first and
    last kept: the way Chinese shortens a name (危废 for 危固废, 河长 for 河湖长, 规上 for 规模以上). Only when the
    report has exactly one such word, made of whole words of the report's own segmentation (so 发现 is no
    short 发展现代); numbers, place names and common words are never shortenings (十五 is not 十四五, 提到 is not
    提高到)."""

    def __init__(self, corpus_text: str, cut: Callable[[str], list[str]],
                 frequency: Callable[[str], int] = lambda word: 0) -> None:
        self.corpus = corpus_text
        self._cut = cut
        self._frequency = frequency

    def _whole_words(self, at: int, n: int) -> bool:
        """Whether ``corpus[at:at + n]`` starts and ends on word boundaries of the report (cut around it only:
        a corpus of many reports is never cut whole for this)."""
        left = max(0, at - ABBREVIATION_CONTEXT)
        bounds, pos = {left}, left
        for word in self._cut(self.corpus[left:at + n + ABBREVIATION_CONTEXT]):
            pos += len(word)
            bounds.add(pos)
        return at in bounds and at + n in bounds

    def __call__(self, words: Iterable[str]) -> tuple[tuple[str, str], ...]:
        found: list[tuple[str, str]] = []
        for typed in words:
            # "河长制": the system named after a shortened word (河长 → 河湖长) is looked up by that word
            w = typed[:-1] if len(typed) == 3 and typed[-1] in SYSTEM_SUFFIXES and typed not in self.corpus else typed
            if not (2 <= len(w) <= 3 and _CJK_RUN.fullmatch(w)) or w in self.corpus or w in STOPWORDS \
                    or w in FRAME_WORDS or w[0] in GLUE_CHARS or w[-1] in GLUE_CHARS \
                    or any(c in _NUMERAL_CHARS for c in w) or self._frequency(w) > COMMON_WORD_FREQUENCY:
                continue  # a common word in its own right (提到, 城建) is no shortening of a report word
            whole: set[str] = set()
            for i in _starts(self.corpus, w[0]):
                for n in (len(w) + 1, len(w) + 2):
                    piece = self.corpus[i:i + n]
                    if piece not in whole and piece[-1:] == w[-1] and _subsequence(w, piece) \
                            and _CJK_RUN.fullmatch(piece) and self._whole_words(i, n):
                        whole.add(piece)  # one occurrence made of whole words is enough
                if len(whole) > 1:
                    break
            if not whole and self._frequency(w) == 0:
                whole = self._initials(w)  # "固投", "社零": the first characters of the report's words
            if len(whole) == 1:
                found.append((typed, whole.pop()))
        return tuple(found)

    def _initials(self, w: str) -> set[str]:
        """The report's runs of consecutive words whose first characters are ``w``'s (固投 → 固定资产投资; not 社零:
        jieba cuts it with its neighbours); stops at the second different run (then none is meant)."""
        runs: set[str] = set()
        for i in _starts(self.corpus, w[0]):
            if w[1] not in self.corpus[i + 2:i + 1 + INITIALS_WORD_MAX]:
                continue  # the second word cannot start with w[1] here: no cut needed
            left = max(0, i - ABBREVIATION_CONTEXT)
            words, pos = [], left
            for word in self._cut(self.corpus[left:i + INITIALS_SPAN * len(w)]):
                if pos >= i:
                    words.append(word)
                pos += len(word)
            if not words or words[0][0] != w[0] or pos - sum(map(len, words)) != i:
                continue  # no report word starts here
            run, want = [], iter(w)
            char = next(want)
            for word in words:
                if not (2 <= len(word) <= INITIALS_WORD_MAX and _CJK_RUN.fullmatch(word)) or word[0] != char:
                    break
                run.append(word)
                char = next(want, "")
                if not char:
                    break
            if not char:
                runs.add("".join(run))
                if len(runs) > 1:
                    return set()
        return runs


def _starts(text: str, char: str) -> Iterable[int]:
    i = text.find(char)
    while i >= 0:
        yield i
        i = text.find(char, i + 1)


def _subsequence(short: str, long: str) -> bool:
    rest = iter(long)
    return all(c in rest for c in short)


#: characters that ask (谁, 啥, 哪, 几…): a misheard word holding one is not read as the report's word
_ASKING_CHARS = frozenset("谁啥哪几么怎咋吗呢嘛多少")
#: a locality's name: two or three characters and what it is (镇, 村, 社区…)
_LOCALITY = re.compile(r"([\u4e00-\u9fff]{2,3})(镇|乡|村|街道|社区|小区)(?![长委民级干])")
#: characters no locality's name holds (function words, pronouns, the words around a place)
_NOT_IN_NAME = frozenset("的了是在和与及或要有这那个们我你他俺咱啥哪什么里上下到去来给把被让不没也都还就城农")


class Reader:
    """Reads questions against one corpus: its vocabulary (for the sound bridge) and its home city."""

    def __init__(self, vocabulary: Iterable[str], corpus_text: str, home_city: str,
                 cut: Callable[[str], list[str]], terms: Iterable[str] = (),
                 frequency: Callable[[str], int] = lambda word: 0,
                 action: Callable[[str], bool] = lambda word: False) -> None:
        words = list(vocabulary)
        self.vocabulary = frozenset(words)
        self._cut = cut
        self.bridge = SoundBridge(words, corpus_text, cut)
        self.synonyms = SynonymBridge(words, corpus_text, cut, STOPWORDS)
        self.english = EnglishBridge(words, corpus_text)
        self.abbreviations = AbbreviationBridge(corpus_text, cut, frequency)
        self._action = action  # whether jieba knows a word as an action (随便, 撤), not a name
        self._frequency = frequency
        self.places = places(home_city)
        self._city = frozenset({home_city, _short(home_city)} if home_city else ())
        #: the names the report itself puts in quotation marks (the index's terms): its programmes ("春笋行动")
        self._named_terms = tuple(sorted(set(terms), key=len, reverse=True))
        self.corpus = corpus_text
        # for cities named by their first character beside the home city's (德沧城际): the report's words holding
        # the home city's first character, shortest first, and how many places' short names start with each character
        self._home_char = _short(home_city)[:1] if home_city else ""
        self._home_compounds = tuple(sorted({w for w in self.vocabulary | set(terms) if self._home_char
                                             and self._home_char in w and 2 <= len(w) <= 6 and _CJK_RUN.fullmatch(w)},
                                            key=lambda w: (len(w), w)))
        self._place_initials = Counter(n[0] for n in {_short(x) for x in self.places.others | self.places.home}
                                       if len(n) == 2)

    def _topical(self, clause: str) -> bool:
        """Whether a clause names something the report could be about: a word of two or more characters that
        the report uses, and that is not a function or frame word (报告, 说, 安排 name nothing)."""
        if not _ALL_CJK_WORD.search(clause):
            return True  # an English clause: its words are not the report's, so this test cannot judge it
        return any(len(w) >= 2 and w in self.vocabulary and w not in STOPWORDS and w not in FRAME_WORDS
                   for w in self._cut(clause))

    def _names_topic(self, clause: str) -> bool:
        """:meth:`_topical`, or a word that is a synonym of a report word: a story's asking clause "今年德州招老师吗"
        (教师) stands alone."""
        return self._topical(clause) or bool(self.synonyms(clause))

    def asking_clause(self, reading: Reading) -> str | None:
        """The one clause of a long message that asks, when it is not all that was searched and names a report
        topic on its own ("……窗户都不敢开,政府管不管扬尘" → 政府管不管扬尘; "过年还让放炮仗不?俺孙子天天磨着俺……" →
        过年还让放炮仗不); None for a short message, an injection or no such clause."""
        if len(reading.text) < STORY_MIN_CHARS or reading.injection:
            return None
        clauses = _CLAUSES.findall(reading.text)
        # a clause asks with its own question mark or as the message's end ("前几年咱这儿修了不少公园，……听说要建停车场了"
        # asks in its last clause, whose "？" normalising stripped; 前几年 asks nothing)
        asking = [c for i, c in enumerate(clauses) if _ASKS.search(c) and (i == len(clauses) - 1 or re.search("[？?]", c))]
        clause = asking[-1].strip(" ，,。！？!?；;…\n") if asking else ""
        if len(clause) < ASKING_MIN_CHARS or clause == reading.core or not self._names_topic(clause):
            return None
        return clause

    def within(self, reading: Reading, text: str) -> Reading:
        """The reading as the reports whose (lowercased) ``text`` answer it see it: a thing those reports never
        name is a detail they lack ("个人缴费比例是多少" of a city's report, though a national report of the corpus
        says 缴费比例)."""
        if reading.details or reading.asks not in ("quantity", "other") \
                or not self._unknown_thing(reading.core, reading.bridged, text):
            return reading
        return dataclasses.replace(reading, details=("thing",))

    def _unknown_thing(self, core: str, bridged: Sequence[tuple[str, str]], corpus: str | None = None) -> bool:
        """Whether the question asks the amount or kind of a thing the report never names ("妇女儿童医院有多少张
        床位", "教师工资涨多少"): no sentence can carry it. A word bridged onto a report word is named. ``corpus``:
        the text of the reports asked, when not the whole corpus."""
        # the last clause, and any asking 多少 ("项目要招多少工人，工资多少？": 工人; not a story's "那几亩麦子")
        clauses = [c for c in re.split(r"[,，;；？?]", core) if c.strip()]
        return any(self._unknown_thing_in(_TIME_WORDS.sub("", _ERHUA.sub("", clause.rstrip("？?！!。. 呢啊呀吗嘛啦了"))),
                                          bridged, corpus)
                   for i, clause in enumerate(clauses) if i == len(clauses) - 1 or "多少" in clause)

    def _unknown_thing_in(self, clause: str, bridged: Sequence[tuple[str, str]], within: str | None = None) -> bool:
        after = _THING_AFTER.search(clause)
        if after is not None and after.group(1) == "人":
            return False  # "有多少人受益": what follows a count of people is what they do
        m = after or _THING_BEFORE.search(clause)
        if m is None:
            return False
        return self._names_no_report_thing(self._cut(m.group(m.lastindex or 1)), self._cut(clause[:m.start()]),
                                           bridged, within, counted=after is not None)

    def _names_no_report_thing(self, words: Sequence[str], before: Sequence[str], bridged: Sequence[tuple[str, str]],
                               within: str | None = None, *, counted: bool = False) -> bool:
        """Whether the last of ``words`` names a thing the report never does (``before``: the clause's words before
        them; ``counted``: they follow 多少/几, where a misheard measure is common)."""
        if not words or len(words[-1]) < 2:  # "项目各有多少个": the word before the verb is no thing
            return False
        head = words[-1][-2:]
        corpus = self.corpus if within is None else within
        if head in COUNT_NOUNS and any(len(w) >= 2 and w in corpus for w in [*words[:-1], *before]):
            return False  # "多少就业岗位", "能新增多少岗位": a count of what the report names (就业, 新增)
        return not (head in corpus or head in VAGUE_THINGS or words[-1] in VAGUE_THINGS or head in STOPWORDS or head in FRAME_WORDS
                    or any(c in GLUE_CHARS or c in "不没" for c in head) or any(head in typed for typed, _ in bridged)
                    # 目表 is a misheard 目标; 基数 is a word of its own, unless it measures what 多少 counts (公理)
                    or ((counted or self._frequency(head) < COMMON_WORD_FREQUENCY)
                        and self.bridge.sounds_known(head, within)))

    def _unknown_yes_no_thing(self, core: str, bridged: Sequence[tuple[str, str]]) -> bool:
        """Whether a yes/no question asks it of a thing the report never names, in its last clause: the word before
        the asking 吗/不/没 or after 有没有 ("招研究生吗", "有没有地铁"), a name, not an action (坐上, 修修)."""
        clause = [c for c in re.split(r"[,，;；？?!！。]", core) if c.strip()][-1:]
        if not clause:
            return False
        # a time word dropped leaves a gap, not a glue ("湿地公圆今年建吗": 公圆 and 建, not 公圆建)
        text = _TIME_WORDS.sub(" ", _ERHUA.sub("", clause[0].strip().rstrip(" 呢啊呀嘛啦了"))).strip()
        has = _HAS_NO.search(text)
        end = _YES_NO_END.search(text)
        body = text[has.end():] if has is not None else text[:end.start()] if end is not None else ""
        if not body or _OPEN_ASKED.search(text):  # "有啥大动作吗", "要弄点啥好去处不": what, not whether
            return False
        words = [w for w in self._cut(body) if w.strip()]
        if not words or len(words[-1]) < 2 or self._action(words[-1]) or words[-1] in NOT_A_THING_ASKED \
                or words[-1].endswith(("点", "些")) or (len(words) >= 2 and words[-2] in _BEFORE_PREDICATE):
            return False  # "能多点吗", "入园更方便吗": what is said of the topic, not a thing asked about
        return self._names_no_report_thing(self._cut(words[-1]), (), bridged)

    def _names_unknown_locality(self, core: str) -> bool:
        """Whether ``core`` names a town, village, street or estate by a name the report never uses (柴胡店镇,
        李家庄村; not 农村, 乡镇, 社区 or a place of the report)."""
        for m in _LOCALITY.finditer(core):
            end = m.end()
            names = [core[start:end] for start in (m.start(1), m.start(1) + 1) if end - start >= 3]
            # a report word before what it is names a kind (示范村, 中心村), not a place
            if names and m.group(1)[-2:] not in self.vocabulary and m.group(0)[-2:] not in self.vocabulary \
                    and not any(self._action(w) for w in self._cut(m.group(1))) \
                    and not any(n in self.corpus or n[-3:] in self.corpus or any(c in _NOT_IN_NAME for c in n[:-1])
                                for n in names):
                return True
        return False

    def _asking(self, core: str, details: Sequence[str]) -> tuple[str, ...]:
        """The words of ``core`` that ask for its details, when the rest names a report topic by the report's own
        word ("智轨坐一趟多少钱": 智轨); else none ("啥时候考试" names nothing the report says)."""
        spans = detail_spans(core, details)
        return spans if spans and self._topical(without(core, spans)) else ()

    def _asks_what_term_is(self, core: str) -> bool:
        """Whether the question asks what one of the report's quoted programme names is or consists of ("春笋行动是
        干啥的", "四减四增是嘛", "两进一出是哪两进哪一出", "一区多园都有哪些园")."""
        m = WHAT_IS.search(core)
        if m is not None:
            subject = core[:m.start()].rstrip("”\"' ")
            if any(subject.endswith(term) for term in self._named_terms):
                return True
        for term in self._named_terms:
            at = core.find(term)
            m = _TERM_ASKED.match(core[at + len(term):]) if at >= 0 else None
            noun = m.group("noun") if m is not None else ""
            if m is not None and not _TERM_ATTRIBUTES.search(noun) and noun not in VAGUE_THINGS:
                return True
        return False

    def _place_compounds(self, core: str, bridged: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        """A city the report names only by its first character, next to the home city's ("沧州" → 德沧 in
        "谋划争取德沧城际高铁", 京沧德济): such compounds name a link between the two (a rail line, a corridor). Only a
        city whose first character starts no other place's name (济 is 济南 or 济宁) and is not the home city's."""
        found: list[tuple[str, str]] = []
        for name, _ in self.places.named(core):
            short = _short(name)
            first = short[:1]
            if not self._home_char or len(short) < 2 or first == self._home_char or short in self.corpus \
                    or name in self.places.home or short == self.places.capital \
                    or self._place_initials.get(first, 0) != 1 or any(short in typed for typed, _ in bridged):
                continue  # the province's capital is the report's 省会 (bridged on its own)
            pairs = (self._home_char + first, first + self._home_char)
            words = [w for w in self._home_compounds if any(p in w for p in pairs)]
            found += [(short, w) for w in words[:MAX_PLACE_COMPOUNDS] if (short, w) not in found]
        return tuple(found)

    def _county_asked(self, core: str) -> bool:
        """Whether the asking part names one of the home city's counties or districts as its subject: a full
        name (禹城市, 陵城区), or a short one (禹城) followed by a suffix or the rest of the question."""
        for name, _ in self.places.named(core):
            if name in self._city or name not in self.places.home or name.startswith("市辖"):
                continue
            if name.endswith(("县", "区", "市")) and len(name) >= 3:
                return True
            at = core.find(name) + len(name)
            if _SHORT_PLACE_END.match(core[at:]):
                return True
        return False

    def with_home(self, text: str, *, asked_at_end: bool = False) -> Reading:
        """``text`` read as naming its places beside the home city ("那济南那边呢？" after a question on what Dezhou
        does with Beijing: Dezhou's relation with 济南, the report's 省会)."""
        city = min(self._city, key=len, default="")
        return self.read(f"{city}和{text}" if city else text, asked_at_end=asked_at_end)

    def read(self, text: str, *, asked_at_end: bool = False) -> Reading:
        """``text`` is already normalised (:func:`dzqa.text.normalize`); ``asked_at_end``: what the user typed ended
        with a question mark (normalising strips it)."""
        core = question_core(text, self._names_topic, asked_at_end=asked_at_end)
        home_named = city_named = False
        other: list[str] = []
        for name, before in self.places.named(text):
            if name in self.places.home:
                home_named = True
                city_named = city_named or name in self._city
            elif not _RELATION.search(before) and name not in other:
                other.append(name)
        if home_named and other:
            # the asking clauses decide whose figure is asked: the home city as their subject ("德州和济南怎么对接",
            # "济南的朋友问我，德州今年GDP目标是多少") keeps it in scope; only the other place ("我在济南上班，平时回德州，
            # 济南今年GDP目标是多少"; "济南的目标多少？跟德州比谁高", where 德州 is what it is compared with) asks its figure
            asking = [self.places.named(c) for c in _CLAUSES.findall(core) if _ASKS.search(c)]
            if not any(n in self.places.home and not _RELATION.search(before) for named in asking for n, before in named):
                home_named = not any(n in other for named in asking for n, _ in named)
        sound = self.bridge(core)
        bridged = sound + self.synonyms(core, skip=(typed for typed, _ in sound))
        bridged += self.abbreviations(w for w in self._cut(core) if all(w not in typed for typed, _ in bridged)
                                      and not self.places.named(w))
        bridged += self._place_compounds(core, bridged)
        # a verb-object word split by an aspect particle ("脱了贫"): the report's word (脱贫)
        bridged += tuple((m.group(0), m.group(1) + m.group(3)) for m in _SPLIT_WORD.finditer(core)
                         if m.group(1) + m.group(3) in self.vocabulary and m.group(1) + m.group(3) not in core)
        capital = self.places.capital
        if capital and capital in core and capital not in other and capital not in self.corpus \
                and "省会" in self.corpus:
            bridged += ((capital, "省会"),)  # "德州跟济南啥关系": the report says 省会
        if _LATIN.search(core):  # an English question is searched with the report's words for its words too
            bridged += self.english(core)
        # what is asked, read with misheard words as the report's ("居民消废价格" asks no price: 消费价格)
        heard = core
        for typed, word in sound:
            # a word of its own (职务 sounds like 治污) or a question word (谁管, not 水管) is what was meant
            if not self._frequency(typed) and not any(c in _ASKING_CHARS for c in typed):
                heard = heard.replace(typed, word)
        asks = answer_type(heard)
        details = tuple(t for t, p in ASK_PATTERNS if t in DETAIL_TYPES and p.search(heard)
                        and not (t == "define" and asks == "list"))
        # a common word heard as a report word by its sound (基数 ~ 技术) is what was typed: it names no report thing;
        # right after 多少 it is a misheard measure (多少公理 → 公里)
        named = tuple(b for b in bridged if b not in sound or self._frequency(b[0]) < COMMON_WORD_FREQUENCY
                      or re.search(f"(多少|几)[{_CLASSIFIERS}]?{re.escape(b[0])}", core))
        if asks in ("quantity", "other") and not details and self._unknown_thing(core, named):
            details = ("thing",)
        if asks == "yesno" and not details and self._unknown_yes_no_thing(core, named):
            details = ("thing",)  # "湿地公园里让钓鱼不", "研究院招研究生吗": whether of a thing the report never names
        if asks == "yesno" and not details and self._names_unknown_locality(core):
            details = ("mine",)  # "有没有宁津县柴胡店镇的路段": a town, village or estate the report does not name
        if "define" not in details and self._asks_what_term_is(core):
            details += ("define",)
        if asks == "quantity" and not city_named and "breakdown" not in details and self._county_asked(core):
            details += ("breakdown",)  # "禹城今年GDP目标多少": a city's report gives the city's figures
        return Reading(text=text, core=core, bridged=bridged, asks=asks, details=details,
                       other_places=tuple(other), home_named=home_named, injection=bool(_INJECTION.search(text)),
                       asking=self._asking(core, details))


def carries(kind: str, text: str) -> bool:
    """Whether a sentence of the report carries the detail a question asks for."""
    pattern = CARRIES.get(kind)
    return True if pattern is None else bool(pattern.search(text))


def split_unknown(tokens: Sequence[str], known: Collection[str]) -> list[str]:
    """A question's tokens with each one the corpus lacks split into corpus words, where it is one glued to
    a function word by jieba (那水 → 水, 雄安有 → 雄安): the longest known words from the left, stopwords
    dropped. A token is kept whole unless every character falls in a known word or a stopword and what
    remains is one word or words of two or more characters (天气 stays: 天 + 气 would be two guesses)."""
    out: list[str] = []
    for tok in tokens:
        pieces = _max_match(tok, known) if tok not in known and len(tok) >= 2 and _ALL_CJK_WORD.fullmatch(tok) \
            else None
        content = [p for p in pieces or () if p not in STOPWORDS]
        if content and (len(content) == 1 or all(len(p) >= 2 for p in content)):
            out.extend(content)
        else:
            out.append(tok)
    return out


def _max_match(token: str, known: Collection[str]) -> list[str] | None:
    """``token`` cut into known words or stopwords, longest first from the left (never the whole token);
    None when some character belongs to neither."""
    pieces: list[str] = []
    i = 0
    while i < len(token):
        for n in range(min(len(token) - 1, len(token) - i), 0, -1):
            piece = token[i:i + n]
            if piece in known or (piece in STOPWORDS and (len(piece) > 1 or piece in GLUE_CHARS)):
                pieces.append(piece)
                i += n
                break
        else:
            return None
    return pieces
